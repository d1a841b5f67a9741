-- The fault library's PRNG: xoshiro256** seeded through splitmix64,
-- bit-compatible with core/storage/rng.h so a Lua policy and a C tl_impair given
-- one seed agree.
local ffi = require "ffi"
local bit = require "bit"

local bxor, rshift, lshift, rol = bit.bxor, bit.rshift, bit.lshift, bit.rol
local floor, log, sqrt, cos = math.floor, math.log, math.sqrt, math.cos

local u64 = ffi.typeof("uint64_t")
local u64x4 = ffi.typeof("uint64_t[4]")

local Rng = {}
Rng.__index = Rng

local function splitmix(x)
  x = x + 0x9e3779b97f4a7c15ULL
  local z = x
  z = bxor(z, rshift(z, 30)) * 0xbf58476d1ce4e5b9ULL
  z = bxor(z, rshift(z, 27)) * 0x94d049bb133111ebULL
  return x, bxor(z, rshift(z, 31))
end

local function to_u64(n)
  if type(n) == "cdata" then return u64(n) end
  n = tonumber(n) or 0
  if n < 0 then n = -n end
  return u64(floor(n % 18446744073709551616))
end

-- stream > 0 gives an independent generator per policy for one seed.
local function rng_new(seed, stream)
  local x = to_u64(seed)
  if stream and stream ~= 0 then x = x + to_u64(stream) * 0xd1b54a32d192ed03ULL end
  local s = u64x4()
  for i = 0, 3 do
    local z
    x, z = splitmix(x)
    s[i] = z
  end
  return setmetatable({ s = s }, Rng)
end

function Rng:next()
  local s = self.s
  local result = rol(s[1] * 5, 7) * 9
  local t = lshift(s[1], 17)
  s[2] = bxor(s[2], s[0])
  s[3] = bxor(s[3], s[1])
  s[1] = bxor(s[1], s[2])
  s[0] = bxor(s[0], s[3])
  s[2] = bxor(s[2], t)
  s[3] = rol(s[3], 45)
  return result
end

-- Uniform in [0, 1), 53 bits.
function Rng:unit()
  return tonumber(rshift(self:next(), 11)) * (1 / 9007199254740992)
end

-- Uniform integer in [0, n).
function Rng:below(n)
  return floor(self:unit() * n)
end

-- Standard normal (Box-Muller; one of the pair is discarded to keep the
-- stream position a pure function of the call count).
function Rng:normal()
  local u1 = 1 - self:unit()
  local u2 = self:unit()
  return sqrt(-2 * log(u1)) * cos(2 * math.pi * u2)
end

-- The standard normal CDF, from the complementary error function
-- (Chebyshev fit, relative error below 1.2e-7; Numerical Recipes' erfc).
local exp, abs = math.exp, math.abs
local function phi(z)
  local x = abs(z) / math.sqrt(2)
  local t = 1 / (1 + 0.5 * x)
  local r = t * exp(-x * x - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806
    + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))))
  -- r = erfc(|z|/sqrt 2)
  if z >= 0 then return 1 - 0.5 * r end
  return 0.5 * r
end

-- An event of probability p whose successive outcomes (st.last) have
-- lag-1 correlation corr, at rate p: P(event | event) = p + corr(1-p),
-- P(event | none) = p(1-corr) (core/link/impair_model.c's im_event).
function Rng:event(st, p, corr)
  local q = p
  if corr and corr > 0 then q = st.last and p + corr * (1 - p) or p * (1 - corr) end
  local e = p > 0 and self:unit() < q
  st.last = e
  return e
end

-- A standard normal whose successive values (st.z) follow a Gaussian
-- AR(1) of coefficient 2 sin(pi corr / 6): any increasing function of it
-- has lag-1 rank correlation corr and keeps its distribution.
function Rng:corr_normal(st, corr)
  local z = self:normal()
  if corr and corr > 0 and st.z then
    local rho = 2 * math.sin(math.pi * math.min(corr, 1) / 6)
    z = rho * st.z + sqrt(1 - rho * rho) * z
  end
  st.z = z
  return z
end

-- netem's pareto table at quantile u: shape 3, mean 0, cut at +4.
local function pareto_q(u)
  local v = math.max(1 - u, 1e-12)
  return math.min((v ^ (-1 / 3) - 1.5) * 4 / 3, 4)
end

return { new = rng_new, Rng = Rng, phi = phi, pareto_q = pareto_q }
