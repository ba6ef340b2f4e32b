// The dashboard's only script, and optional: pages read the same without it.
// Live counts: an element with data-counts-url is refreshed every 2 s from that JSON
// ({"queues": {queue: {state: n}}, "total": {state: n}}); inside it, an element with
// data-state (and data-queue, else the total) shows that number.
"use strict";

const PERIOD_MS = 2000;

function countOf(data, element) {
  const queue = element.dataset.queue;
  const row = queue === undefined ? data.total : (data.queues || {})[queue];
  return row === undefined ? undefined : row[element.dataset.state];
}

function show(root, data) {
  for (const element of root.querySelectorAll("[data-state]")) {
    const count = countOf(data, element);
    if (count !== undefined && element.textContent !== String(count)) {
      element.textContent = String(count);
    }
  }
}

async function refresh(root) {
  let response;
  try {
    response = await fetch(root.dataset.countsUrl, {
      credentials: "same-origin",
      headers: { Accept: "application/json" },
    });
  } catch {
    response = null; // the server is away for a moment: try again later
  }
  if (response !== null && (response.status === 401 || response.status === 403)) {
    root.dataset.countsStopped = "logged out"; // reloading the page leads to the login
    return;
  }
  if (response !== null && response.ok) {
    show(root, await response.json());
    root.dataset.countsUpdated = new Date().toISOString();
  }
  setTimeout(() => refresh(root), PERIOD_MS);
}

document.addEventListener("DOMContentLoaded", () => {
  for (const root of document.querySelectorAll("[data-counts-url]")) {
    setTimeout(() => refresh(root), PERIOD_MS);
  }
});
