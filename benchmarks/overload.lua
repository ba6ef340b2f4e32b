-- wrk script: every request a distinct cold render of the image at $BASE (w100-2000 x q40-79;
-- q80 is the default, whose token would redirect). Each thread seeds its own generator.
local base = os.getenv("BASE")

function setup(thread)
  thread:set("seed", math.random(1, 1000000))
end

function init(args)
  math.randomseed(seed)
end

request = function()
  local width = math.random(100, 2000)
  local quality = math.random(40, 79)
  return wrk.format("GET", base .. "/w" .. width .. "-q" .. quality .. ".jpg")
end
