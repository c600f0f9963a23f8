--[[
scripts/lua/rules.lua: declarative permission rules (docs/policy.md).

  local rules = require "rules"
  return rules.policy {
    default = "ask",
    rules.deny  { name = "secrets", paths = { "~/.ssh/**" }, reason = "…" },
    rules.allow { name = "tests", commands = { "npm test", "make check *" } },
  }

Rules match units. A tool call is one unit; a shell command (a tool that
declares `executes` and has a `command` argument) is one unit per simple
command in it, found by portico.shell.split, including the commands inside
$( ), backquotes, subshells and `sh -c '…'`. Among the rules matching a
unit, deny beats ask beats allow and the first written wins a tie; a unit
that no rule matches gets the policy's default. The call gets the strongest
decision of its units, so a command is allowed only when every simple
command in it is, and a part that cannot be understood makes it ask.
]]

local M = {}

local split, normalize, inside = portico.shell.split, portico.path.normalize, portico.path.inside
local path_match, glob, parse_url = portico.path.match, portico.glob, portico.url.parse
local HOME = portico.home

local STRENGTH = { allow = 1, ask = 2, deny = 3 }

local function set(list)
  local s = {}
  for _, v in ipairs(list) do s[v] = true end
  return s
end
M.set = set
M.inside, M.normalize = inside, normalize

local function list(v)
  if v == nil or type(v) == "table" then return v end
  return { v }
end

local function basename(s) return (s:match("([^/]*)$")) end

-- Programs that run another command named after their own options.
M.WRAPPERS = set { "sudo", "doas", "env", "nice", "nohup", "time", "timeout",
  "command", "exec", "builtin", "stdbuf", "ionice", "xargs", "chronic",
  "unbuffer", "caffeinate", "torsocks", "proxychains", "proxychains4", "setsid" }
local VALUE_OPTS = {
  sudo = set { "-u", "-g", "-h", "-p", "-C", "-D", "-R", "-T", "-U", "--user", "--group", "--chdir" },
  doas = set { "-u", "-C" },
  env = set { "-u", "-C", "--unset", "--chdir" },
  nice = set { "-n", "--adjustment" },
  timeout = set { "-s", "-k", "--signal", "--kill-after" },
  xargs = set { "-a", "-d", "-E", "-I", "-L", "-n", "-P", "-s", "--arg-file", "--delimiter",
    "--max-args", "--max-procs", "--max-lines" },
  ionice = set { "-c", "-n", "-p" },
}

-- Shells whose -c argument (and eval, whose arguments) are commands too.
M.SHELLS = set { "sh", "bash", "zsh", "dash", "ksh", "mksh", "ash", "fish" }

-- Commands whose arguments are not file names (only their redirections are).
M.NO_PATH_ARGS = set { "echo", "printf", "true", "false", "pwd", "date", "uname",
  "whoami", "id", "hostname", "sleep", "seq", "yes", "expr", ":" }

-- Commands that fetch URLs given without a scheme too.
M.URL_PROGRAMS = set { "curl", "wget", "http", "https", "xh" }

-- What a command changes besides its redirections: "all" its operands,
-- "rest" all but the first, "dest" the -t folder or the last operand, or the
-- values of the listed options.
M.WRITERS = {
  rm = "all", rmdir = "all", unlink = "all", shred = "all", truncate = "all",
  touch = "all", mkdir = "all", tee = "all", mv = "all",
  chmod = "rest", chown = "rest", chgrp = "rest",
  cp = "dest", ln = "dest", install = "dest", rsync = "dest", scp = "dest",
  dd = { "of" }, curl = { "-o", "--output" }, wget = { "-O", "--output-document", "-P", "--directory-prefix" },
  tar = { "-C", "--directory" }, sed = "inplace", find = "find",
}

-- The index of the command a wrapper runs (`sudo -u x rm -rf /` → rm).
local function unwrap(argv)
  local i = 1
  while argv[i] and M.WRAPPERS[basename(argv[i])] do
    local values = VALUE_OPTS[basename(argv[i])] or {}
    local timeout = basename(argv[i]) == "timeout"
    local env = basename(argv[i]) == "env"
    i = i + 1
    while argv[i] do
      local a = argv[i]
      if a == "--" then i = i + 1 break
      elseif a:sub(1, 1) == "-" and #a > 1 then i = i + (values[a] and 2 or 1)
      elseif env and a:find("^[%a_][%w_]*=") then i = i + 1
      elseif timeout and a:find("^%d") then i = i + 1 break
      else break end
    end
  end
  return i
end
M.unwrap = unwrap

-- A word as a path: false when it cannot be known before it runs ($VAR,
-- $(…), brace expansion, a glob that may climb with .*, or no cwd).
local function word_path(w, expands, globbed, cwd)
  if expands then
    local rest = w:match("^%$HOME(.*)$") or w:match("^%${HOME}(.*)$")
    if not rest or not HOME or (rest ~= "" and rest:sub(1, 1) ~= "/") or rest:find("[$`]") then
      return false
    end
    w = "~" .. rest
  end
  if globbed then
    if w:find("[{}]") then return false end
    for seg in w:gmatch("[^/]+") do
      if seg:sub(1, 1) == "." and seg:find("[*?%[]") and glob(seg, "..") then return false end
    end
  end
  local c = w:sub(1, 1)
  if not cwd and c ~= "/" and c ~= "~" then return false end
  return normalize(w, cwd or nil) or false
end
M.word_path = word_path

local function option_values(argv, from, opts)
  local out = {}
  for i = from, #argv do
    local a = argv[i]
    for _, o in ipairs(opts) do
      if a == o and argv[i + 1] then out[#out + 1] = i + 1
      elseif o:sub(1, 2) == "--" and a:sub(1, #o + 1) == o .. "=" then out[#out + 1] = { i, #o + 2 }
      elseif #o == 2 and o:sub(1, 1) == "-" and a:sub(1, 2) == o and #a > 2 and a:sub(2, 2) ~= "-" then
        out[#out + 1] = { i, 3 }
      elseif #o > 1 and o:sub(1, 1) ~= "-" and a:sub(1, #o + 1) == o .. "=" then
        out[#out + 1] = { i, #o + 2 }
      end
    end
  end
  return out
end

-- Indexes (or {index, offset}) of the words a command writes to.
local function written_words(program, argv, first)
  local spec = M.WRITERS[program]
  if not spec then return {} end
  if type(spec) == "table" then return option_values(argv, first + 1, spec) end
  local operands = {}
  local seen_dashdash = false
  for i = first + 1, #argv do
    local a = argv[i]
    if a == "--" and not seen_dashdash then seen_dashdash = true
    elseif seen_dashdash or a:sub(1, 1) ~= "-" or a == "-" then operands[#operands + 1] = i end
  end
  if spec == "all" then return operands end
  if spec == "rest" then table.remove(operands, 1) return operands end
  if spec == "dest" then
    local t = option_values(argv, first + 1, { "-t", "--target-directory" })
    if #t > 0 then return t end
    return { operands[#operands] }
  end
  if spec == "inplace" then
    for i = first + 1, #argv do
      local a = argv[i]
      if a == "--in-place" or a:find("^%-%-in%-place=") or a:find("^%-[^-]*i") then return operands end
    end
    return {}
  end
  if spec == "find" then
    local starts, deletes = {}, false
    for i = first + 1, #argv do
      local a = argv[i]
      if a == "-delete" then deletes = true end
      if not deletes and #starts == i - first - 1 and not a:find("^[-(!]") then starts[#starts + 1] = i end
    end
    return deletes and starts or {}
  end
  return {}
end

local function word_at(argv, ref)
  if type(ref) == "table" then return argv[ref[1]]:sub(ref[2]), ref[1] end
  return argv[ref], ref
end

-- A simple command's effects are judged from what it is, not from what
-- the shell tool declares (which is everything), so its units only say
-- that they execute.
local SHELL_FLAGS = { executes = true }

-- One simple command as a unit.
local function shell_unit(call, ctx, s, c, cwd)
  local argv = c.argv
  local first = unwrap(argv)
  local program = argv[first] and basename(argv[first])
  local u = {
    tool = call.tool, flags = SHELL_FLAGS, call = call, split = s, cmd = c,
    text = c.text, argv = argv, name = c.name, first = first, program = program,
    wrapped = first > 1, cwd = cwd or false, paths = { cwd or false }, writes = {}, hosts = {},
  }
  local paths, hosts = u.paths, u.hosts
  local function add(p) paths[#paths + 1] = p end
  for _, a in ipairs(c.assigns) do
    local v = a:match("=(.*)$")
    if v ~= "" then add(word_path(v, a:find("[$`]") ~= nil, false, cwd)) end
  end
  local no_path = M.NO_PATH_ARGS[program]
  for i = first + 1, #argv do
    local w, dyn, gl = argv[i], c.expands[i], c.globs[i]
    local is_url = w:find("://", 1, true) ~= nil and w:find("^%a[%w+.-]*://") ~= nil
    local url = is_url and parse_url(w) or nil
    if not is_url and M.URL_PROGRAMS[program] and not dyn and w:find("^[%w-]+%.[%w.-]*[%w]") then
      url = parse_url("http://" .. w)
      is_url = url ~= nil
    end
    if is_url then
      if url and url.host then hosts[#hosts + 1] = url.host end
    elseif w:sub(1, 1) == "-" then
      local v = w:match("^%-%-?[^=]+=(.+)$")
      if v then add(word_path(v, dyn, gl, cwd)) end
    elseif not no_path then
      add(word_path(w, dyn, gl, cwd))
      local v = w:find("=", 1, true) and w:match("^[%w_.-]+=(.+)$")
      if v then add(word_path(v, dyn, gl, cwd)) end
    end
  end
  for _, ref in ipairs(written_words(program, argv, first)) do
    local w, i = word_at(argv, ref)
    u.writes[#u.writes + 1] = word_path(w, c.expands[i], c.globs[i], cwd)
  end
  for _, r in ipairs(c.redirects) do
    if r.file then
      local p = word_path(r.target, r.expands, r.glob, cwd)
      add(p)
      if r.writes then u.writes[#u.writes + 1] = p end
    end
  end
  for _, w in ipairs(u.writes) do add(w) end
  return u
end

local function operands(argv, first)
  local out = {}
  for i = first + 1, #argv do
    if argv[i]:sub(1, 1) ~= "-" then out[#out + 1] = i end
  end
  return out
end

local function add_shell_units(call, ctx, command, cwd, units, depth)
  local s = split(command)
  if not s.ok then
    units[#units + 1] = { tool = call.tool, flags = SHELL_FLAGS, call = call, unparsed = true,
      error = s.error, text = command, paths = {}, writes = {}, hosts = {} }
  end
  for _, c in ipairs(s.commands) do
    local u = shell_unit(call, ctx, s, c, cwd)
    units[#units + 1] = u
    local p, argv = u.program, c.argv
    -- A change of folder moves the relative paths of what follows.
    if p == "cd" or p == "pushd" then
      local ops = operands(argv, u.first)
      if #ops == 0 and p == "cd" then cwd = HOME or false
      elseif #ops == 1 and argv[ops[1]] ~= "-" then
        cwd = word_path(argv[ops[1]], c.expands[ops[1]], c.globs[ops[1]], cwd)
      else cwd = false end
    elseif p == "popd" then
      cwd = false
    end
    -- sh -c '…' and eval '…' run commands of their own.
    local script, dynamic
    if p and M.SHELLS[p] then
      for i = u.first + 1, #argv do
        local a = argv[i]
        if a:find("^%-%a*c%a*$") then script, dynamic = argv[i + 1], c.expands[i + 1] break end
        if a:sub(1, 1) ~= "-" then break end
      end
    elseif p == "eval" then
      local parts = {}
      for i = u.first + 1, #argv do
        parts[#parts + 1] = argv[i]
        dynamic = dynamic or c.expands[i]
      end
      script = table.concat(parts, " ")
    end
    if script and not dynamic then
      if depth >= 4 then
        units[#units + 1] = { tool = call.tool, flags = SHELL_FLAGS, call = call, unparsed = true,
          error = "shells nested more than 4 deep", text = script, paths = {}, writes = {}, hosts = {} }
      else
        add_shell_units(call, ctx, script, cwd, units, depth + 1)
      end
    end
  end
end

-- The units of a call: one per simple command of a shell call, else one.
function M.units(call, ctx)
  local units = {}
  if call.flags.executes and type(call.command) == "string" then
    local cwd = ctx.workspace
    local dir = type(call.args.cwd) == "string" and call.args.cwd
      or type(call.args.workdir) == "string" and call.args.workdir
    if dir then cwd = normalize(dir, ctx.workspace) or false end
    add_shell_units(call, ctx, call.command, cwd, units, 0)
  else
    units[1] = { tool = call.tool, flags = call.flags, call = call, paths = call.paths,
      writes = call.flags.writes and call.paths or {}, hosts = call.hosts }
  end
  return units
end

------------------------------------------------------------------------------
-- Rules

local KNOWN = set { "name", "reason", "tool", "tools", "flags", "programs", "command",
  "commands", "path", "paths", "writes", "hosts", "host", "outside", "inside", "except", "when" }

local function compile_commands(v)
  if v == nil then return nil end
  local out = {}
  for _, c in ipairs(list(v)) do
    if type(c) == "function" then
      out[#out + 1] = c
    else
      local words = {}
      for w in tostring(c):gmatch("%S+") do words[#words + 1] = w end
      out[#out + 1] = words
    end
  end
  return out
end

local function rule(decision)
  return function(spec)
    if type(spec) ~= "table" or type(spec.name) ~= "string" then
      error("rules." .. decision .. " needs a table with a name", 2)
    end
    for k in pairs(spec) do
      if not KNOWN[k] then
        error(("rules.%s %q: unknown field %q"):format(decision, spec.name, tostring(k)), 2)
      end
    end
    local hosts = list(spec.hosts or spec.host)
    if hosts then
      local lower = {}
      for i, h in ipairs(hosts) do lower[i] = h:lower() end
      hosts = lower
    end
    return {
      decision = decision, name = spec.name, reason = spec.reason,
      tools = list(spec.tools or spec.tool), flags = list(spec.flags),
      programs = spec.programs and set(list(spec.programs)),
      commands = compile_commands(spec.commands or spec.command),
      paths = list(spec.paths or spec.path), writes = list(spec.writes), hosts = hosts,
      outside = spec.outside, inside = spec.inside, except = list(spec.except), when = spec.when,
    }
  end
end
M.allow, M.ask, M.deny = rule "allow", rule "ask", rule "deny"

-- Which list matched which path, for one decision: the same folder (the
-- cwd of every simple command) meets the same long lists again and again.
local memo = setmetatable({}, { __mode = "k" })

local function list_match(patterns, path, base)
  local seen = memo[patterns]
  if not seen then
    seen = {}
    memo[patterns] = seen
  end
  local hit = seen[path]
  if hit == nil then
    hit = path_match(patterns, path, base) ~= nil
    seen[path] = hit
  end
  return hit
end

-- paths or writes: an allow needs every item to match (and one at least),
-- a deny or ask any one.
local function items_match(r, items, patterns, base)
  local all = r.decision == "allow"
  local considered = 0
  for _, it in ipairs(items) do
    local skip = it and ((r.outside and base and inside(it, base))
      or (r.except and list_match(r.except, it, base)))
    if not skip then
      considered = considered + 1
      local hit = it and (patterns == nil or list_match(patterns, it, base))
        and (not r.inside or (base and inside(it, base)))
      if all and not hit then return false end
      if hit and not all then return true end
    end
  end
  return all and considered > 0
end

local function words_match(pw, argv, from, base_names)
  local n = #pw
  local star = pw[n] == "*"
  if star then n = n - 1 end
  local count = #argv - from + 1
  if count < n or (not star and count ~= n) or count < 1 then return false end
  for k = 1, n do
    local w = argv[from + k - 1]
    if k == 1 and base_names then w = basename(w) end
    if not glob(pw[k], w) then return false end
  end
  return true
end

local function command_match(r, u, call, ctx)
  local c = u.cmd
  if not c then return false end
  local allow = r.decision == "allow"
  -- An allow names the command as typed: never through a wrapper, a
  -- path, a NAME=value prefix or an expansion.
  local plain = #c.argv > 0 and not u.wrapped and #c.assigns == 0 and not c.expands[1]
    and not c.globs[1] and not c.name:find("/")
  for _, pat in ipairs(r.commands) do
    if type(pat) == "function" then
      if pat(u, call, ctx) then return true end
    elseif allow then
      if plain and words_match(pat, c.argv, 1, false) then return true end
    elseif u.program and words_match(pat, c.argv, u.first, true) then
      return true
    end
  end
  return false
end

local function any_flag(r, flags)
  for _, f in ipairs(r.flags) do
    if flags[f] then return true end
  end
  return false
end

local function matches(r, u, call, ctx)
  local base = ctx.workspace
  if r.tools and not glob(r.tools, u.tool) then return false end
  if r.flags and not any_flag(r, u.flags) then return false end
  if r.programs and not (u.program and r.programs[u.program]) then return false end
  if r.commands and not command_match(r, u, call, ctx) then return false end
  if (r.paths or ((r.outside or r.inside) and not r.writes and not r.hosts))
    and not items_match(r, u.paths, r.paths, base) then
    return false
  end
  if r.writes and not items_match(r, u.writes, r.writes, base) then return false end
  if r.hosts then
    local all, n = r.decision == "allow", 0
    for _, h in ipairs(u.hosts) do
      local hit = glob(r.hosts, h, true) ~= nil
      n = n + 1
      if all and not hit then return false end
      if hit and not all then n = -1 break end
    end
    if (all and n == 0) or (not all and n ~= -1) then return false end
  end
  if r.when and not r.when(u, call, ctx) then return false end
  return true
end
M.matches = matches

-- The strongest rule matching unit u, or nil.
local function evaluate(rules, u, call, ctx)
  local best
  for i = 1, #rules do
    local r = rules[i]
    if (not best or STRENGTH[r.decision] > STRENGTH[best.decision]) and matches(r, u, call, ctx) then
      best = r
      if r.decision == "deny" then break end
    end
  end
  return best
end

-- For reasons: a simple command with its redirections, as a person wrote
-- it, on one line and not too long.
local function shown(u)
  local parts = { u.text }
  for _, r in ipairs(u.cmd.redirects) do
    if r.op ~= "<<" and r.op ~= "<<-" then parts[#parts + 1] = (r.fd or "") .. r.op .. r.target end
  end
  local s = table.concat(parts, " "):gsub("%s+", " ")
  if #s > 120 then s = s:sub(1, 117) .. "..." end
  return s
end

------------------------------------------------------------------------------
-- Policies

local Policy = {}
Policy.__index = Policy
local NOT_UNDERSTOOD, DEFAULT = { name = "not-understood" }, { name = "default" }

local function check_decision(d, what)
  if not STRENGTH[d] then error(what .. " must be \"allow\", \"ask\" or \"deny\"", 3) end
end

function M.policy(spec)
  local p = setmetatable({ rules = {}, default = spec.default or "ask",
    reason = spec.reason or "no rule allows this", not_understood = spec.not_understood or "ask" }, Policy)
  check_decision(p.default, "rules.policy default")
  check_decision(p.not_understood, "rules.policy not_understood")
  for i, r in ipairs(spec) do
    if type(r) ~= "table" or not STRENGTH[r.decision] then
      error("rules.policy: entry " .. i .. " is not a rule (write rules.allow, rules.ask or rules.deny)", 2)
    end
    p.rules[#p.rules + 1] = r
  end
  return p
end

-- A new policy: these rules, then more's; more's default and reasons win.
function Policy:with(more)
  local spec = { default = more.default or self.default, reason = more.reason or self.reason,
    not_understood = more.not_understood or self.not_understood }
  for _, r in ipairs(self.rules) do spec[#spec + 1] = r end
  for _, r in ipairs(more) do spec[#spec + 1] = r end
  return M.policy(spec)
end

function Policy:decide(call, ctx)
  for k in pairs(memo) do memo[k] = nil end
  local units = M.units(call, ctx)
  if #units == 0 then return "ask", "the command is empty", "empty" end
  local best_d, best_r, best_u, best_s, allowed, seen = nil, nil, nil, 0, {}, {}
  for _, u in ipairs(units) do
    local d, r
    if u.unparsed then
      d, r = self.not_understood, NOT_UNDERSTOOD
    else
      r = evaluate(self.rules, u, call, ctx)
      d = r and r.decision or self.default
      r = r or DEFAULT
    end
    if d == "allow" and not seen[r.name] then
      seen[r.name] = true
      allowed[#allowed + 1] = r.name
    end
    if STRENGTH[d] > best_s then best_d, best_r, best_u, best_s = d, r, u, STRENGTH[d] end
  end
  if best_d == "allow" and #units > 1 then
    local names = table.concat(allowed, "+")
    return "allow", "every part is allowed: " .. names, names
  end
  local why = best_r.reason
  if best_u.unparsed then
    why = "cannot understand the command (" .. best_u.error .. ")"
  elseif best_r == DEFAULT then
    why = self.reason
  elseif type(why) == "function" then
    why = why(best_u, call, ctx)
  end
  why = why or (best_d .. " by rule " .. best_r.name)
  if best_u.cmd then why = "`" .. shown(best_u) .. "`: " .. why end
  return best_d, why, best_r.name
end

return M
