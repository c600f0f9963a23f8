--[[
scripts/lua/policy.lua: Portico's default permission policy (docs/policy.md).

Reads inside the workspace are allowed; writes, shell commands and the
network ask. Denied outright: anything touching secret stores (SSH, cloud
and registry credentials, GPG, keyrings, browser profiles, shell history,
portico's own config and data), secret files outside the workspace (.env,
private keys), writes outside the workspace (temporary folders ask),
commands run with other privileges, code fetched from the network and piped
into an interpreter, cloud metadata addresses, and URLs that are not http(s).
A few read-only commands (ls, cat, grep, git status, ...) run without asking
when every path they touch is inside the workspace.

Your own policy.lua in the config folder replaces this file. To extend it
instead, start from it:

  local rules = require "rules"
  return require("policy"):with {
    rules.allow { name = "tests", commands = { "npm test", "cargo test *" } },
  }
]]

local rules = require "rules"
local allow, ask, deny, set = rules.allow, rules.ask, rules.deny, rules.set

local function concat(...)
  local out = {}
  for _, l in ipairs({ ... }) do
    for _, v in ipairs(l) do out[#out + 1] = v end
  end
  return out
end

-- Where keys, tokens and sessions live. "~/x/**" also matches ~/x itself.
local SECRETS = {
  "~/.ssh/**", "~/.gnupg/**", "~/.aws/**", "~/.azure/**", "~/.config/gcloud/**",
  "~/.kube/**", "~/.docker/config.json", "~/.netrc", "~/.git-credentials",
  "~/.config/git/credentials", "~/.npmrc", "~/.yarnrc", "~/.pypirc", "~/.gem/credentials",
  "~/.cargo/credentials", "~/.cargo/credentials.toml", "~/.config/gh/**", "~/.config/hub",
  "~/.vault-token", "~/.terraform.d/credentials.tfrc.json", "~/.config/op/**",
  "~/.password-store/**", "~/.local/share/keyrings/**", "~/.pgpass", "~/.my.cnf",
  "~/.mozilla/**", "~/.config/google-chrome/**", "~/.config/chromium/**",
  "~/.config/BraveSoftware/**", "~/.config/microsoft-edge/**", "~/snap/firefox/**",
  "~/Library/Application Support/Google/Chrome/**", "~/Library/Application Support/Firefox/**",
  "~/Library/Keychains/**", "~/Library/Cookies/**",
  "~/.bash_history", "~/.zsh_history", "~/.python_history", "~/.psql_history",
  "~/.mysql_history", "~/.node_repl_history", "~/.lesshst",
  "/etc/shadow", "/etc/gshadow", "/etc/sudoers", "/etc/sudoers.d/**",
  "/etc/ssh/ssh_host_*_key", "/root/**", "/run/secrets/**", "/var/run/secrets/**",
}
-- Portico's own folders: its config holds this policy and API keys, its
-- data the store of every session and rule.
for _, dir in ipairs({ portico.config_dir or false, portico.data_dir or false }) do
  if dir then SECRETS[#SECRETS + 1] = dir .. "/**" end
end

-- Secret files by name, denied outside the workspace (inside, they are the
-- project's own).
local SECRET_NAMES = {
  "/**/.env", "/**/.env.*", "/**/id_rsa", "/**/id_dsa", "/**/id_ecdsa", "/**/id_ed25519",
  "/**/*.pem", "/**/*.key", "/**/*.p12", "/**/*.pfx", "/**/*.keystore", "/**/*.jks",
  "/**/.htpasswd",
}

local TEMP = { "/tmp/**", "/var/tmp/**", "/private/tmp/**" }
if os.getenv("TMPDIR") then TEMP[#TEMP + 1] = os.getenv("TMPDIR") .. "/**" end

local DEVICES = { "/dev/null", "/dev/stdout", "/dev/stderr", "/dev/tty", "/dev/fd/[012]" }

local METADATA = { "169.254.169.254", "169.254.170.2", "fd00:ec2::254", "100.100.100.200",
  "metadata.google.internal", "metadata", "instance-data" }

local NETWORK_PROGRAMS = { "curl", "wget", "ssh", "scp", "sftp", "rsync", "nc", "ncat", "netcat",
  "telnet", "ftp", "http", "https", "xh", "socat", "aria2c" }
local FETCHERS = set { "curl", "wget", "http", "https", "xh", "aria2c", "fetch" }
local INTERPRETERS = set { "sh", "bash", "zsh", "dash", "ksh", "mksh", "ash", "fish", "python",
  "python2", "python3", "perl", "ruby", "node", "nodejs", "deno", "bun", "php", "lua", "luajit",
  "Rscript", "pwsh", "powershell", "osascript", "tclsh" }
local PRIVILEGED = set { "sudo", "su", "doas", "pkexec", "runas", "run0" }

-- Commands that only read, with the options that would make them write or
-- run something else.
local READ_ONLY = set { "ls", "cat", "head", "tail", "wc", "grep", "egrep", "fgrep", "rg", "pwd",
  "echo", "printf", "true", "false", "which", "type", "file", "stat", "du", "df", "diff", "cmp",
  "comm", "basename", "dirname", "realpath", "readlink", "tree", "cut", "tr", "nl", "tac", "rev",
  "fold", "paste", "column", "sort", "find", "date", "uname", "whoami", "id", "test", "[", "cd",
  "pushd", "popd", "md5sum", "sha1sum", "sha256sum", "sha512sum", "cksum", "jq", "seq", "git" }
local FORBIDDEN = {
  find = { exact = set { "-exec", "-execdir", "-ok", "-okdir", "-delete", "-fprint", "-fprint0",
    "-fprintf", "-fls" } },
  sort = { short = "o", long = { "--output", "--compress-program" } },
  rg = { long = { "--pre" } },
  tree = { short = "o" },
  date = { short = "s", long = { "--set" } },
}
local GIT_READ_ONLY = set { "status", "diff", "log", "show", "ls-files", "rev-parse", "blame",
  "describe", "shortlog", "ls-tree", "branch" }
local GIT_BRANCH_LIST = set { "-a", "-r", "-v", "-vv", "--list", "--all", "--remotes",
  "--show-current", "--verbose" }

local function forbidden(f, a)
  if f.exact and f.exact[a] then return true end
  if f.short and a:find("^%-[^-]") and a:find(f.short, 2, true) then return true end
  for _, l in ipairs(f.long or {}) do
    if a == l or a:sub(1, #l + 1) == l .. "=" then return true end
  end
  return false
end

local function read_only(u)
  local c = u.cmd
  if not c or not c.name or u.wrapped or #c.assigns > 0 or c.expands[1] or c.globs[1]
    or not READ_ONLY[c.name] then
    return false
  end
  local argv, f = c.argv, FORBIDDEN[c.name]
  for i = 2, f and #argv or 0 do
    if forbidden(f, argv[i]) then return false end
  end
  if c.name == "git" then
    local sub = argv[2]
    if not sub or not GIT_READ_ONLY[sub] then return false end
    for i = 3, #argv do
      local a = argv[i]
      if a:find("^%-%-output") or a == "--ext-diff" or a == "--open-files-in-pager"
        or (sub == "branch" and not GIT_BRANCH_LIST[a]) then
        return false
      end
    end
  end
  return true
end

local function uses_privileges(u)
  if not u.cmd then return false end
  for i = 1, math.min(u.first, #u.argv) do
    if PRIVILEGED[u.argv[i]:match("[^/]*$")] then return true end
  end
  return false
end

-- `curl … | sh`, `sh -c "$(curl …)"`, `bash <(wget …)`.
local function runs_fetched_code(u)
  local c = u.cmd
  if not c or not u.program or not INTERPRETERS[u.program] then return false end
  for _, o in ipairs(c.stage > 1 and u.split.commands or {}) do
    if o.pipeline == c.pipeline and o.stage < c.stage then
      local first = rules.unwrap(o.argv)
      local prog = o.argv[first] and o.argv[first]:match("[^/]*$")
      if FETCHERS[prog] then return true end
    end
  end
  local function fetches(w) return w:find("curl") or w:find("wget") end
  for i = u.first + 1, #c.argv do
    if c.expands[i] and fetches(c.argv[i]) then return true end
  end
  for _, r in ipairs(c.redirects) do
    if r.expands and fetches(r.target) then return true end
  end
  return false
end

-- rm -rf ~, rm -rf /, rm -rf .. : the home folder, the root, or a folder
-- holding the workspace, wherever they are (even under /tmp).
local function writes_ancestor(u, call, ctx)
  for _, p in ipairs(u.writes) do
    if p and (p == "/" or p == portico.home or (p ~= ctx.workspace and rules.inside(ctx.workspace, p))) then
      return true
    end
  end
  return false
end

local function odd_scheme(u)
  for _, url in ipairs(u.call.urls) do
    if url.scheme ~= "http" and url.scheme ~= "https" then return true end
  end
  return false
end

local policy = rules.policy {
  default = "ask",
  reason = "no rule allows this, so the user is asked",

  deny { name = "secrets", paths = SECRETS,
    reason = "touches a secret store (keys, credentials, tokens, browser profiles, history or portico's own files)" },
  deny { name = "secret-files-outside", paths = SECRET_NAMES, outside = true,
    reason = "touches a secret file (.env, a private key) outside the workspace" },
  deny { name = "write-outside", writes = { "/**" }, outside = true, except = concat(TEMP, DEVICES),
    reason = "changes files outside the workspace" },
  deny { name = "write-outside", when = writes_ancestor,
    reason = "changes the home folder, the root, or a folder holding the workspace" },
  deny { name = "privileges", when = uses_privileges,
    reason = "runs a command with other privileges" },
  deny { name = "fetch-and-run", when = runs_fetched_code,
    reason = "runs code fetched from the network" },
  deny { name = "cloud-metadata", hosts = METADATA,
    reason = "reaches a cloud metadata service, which hands out credentials" },
  deny { name = "url-scheme", flags = "network", when = odd_scheme,
    reason = "fetches a URL that is not http or https" },

  ask { name = "writes", flags = "writes", reason = "changes files" },
  ask { name = "writes", writes = { "/**" }, except = DEVICES, reason = "changes files" },
  ask { name = "outside-workspace", outside = true, except = DEVICES,
    reason = "touches files outside the workspace" },
  ask { name = "network", flags = "network", reason = "uses the network" },
  ask { name = "network", programs = NETWORK_PROGRAMS, reason = "uses the network" },

  allow { name = "read-workspace", flags = "reads", paths = { "**" },
    reason = "reads inside the workspace" },
  allow { name = "read-only-command", commands = read_only, paths = { "**" }, except = DEVICES,
    reason = "a read-only command inside the workspace" },
}

policy.lists = { secrets = SECRETS, secret_names = SECRET_NAMES, temp = TEMP, devices = DEVICES,
  metadata = METADATA, read_only = READ_ONLY }
return policy
