using Microsoft.Extensions.Logging;
using Thaw.Resources;
using Thaw.Resources.Cgroups;
using Thaw.Runtimes.Python;
using Thaw.Sandboxes;
using Thaw.Service.Scheduling;
using static Thaw.Service.Configuration.ThawdSetting;

namespace Thaw.Service.Configuration;

/// <summary>
/// Every key of thawd.toml, in the order `thaw serve --print-config` prints them: the top level, then
/// a table per layer. docs/thawd-toml.md describes each (a test holds the two together); the limits
/// here are the options' own checks, so a bad value is refused naming where it came from.
/// </summary>
public static class ThawdSettings
{
    private static readonly TimeSpan Day = TimeSpan.FromDays(1);

    public static IReadOnlyList<ThawdSetting> All { get; } =
    [
        Text("name", "string", c => c.Options.Resources.Name, (c, v) => c.Options.Resources.Name = v!, v => NamingProblem(v, "/")) with
            { Flag = "--name", Help = "Instance name: prefix of every kernel object thawd makes (cgroups, links, mounts)." },
        Text("state_dir", "path", c => c.Options.Resources.StateDir, (c, v) => c.Options.Resources.StateDir = v!, v => NamingProblem("thaw", v)) with
            { Flag = "--state-dir", Help = "Registry, function code, install cache, pinned namespaces and sandbox roots." },
        Choice("log_level", c => c.LogLevel, (c, v) => c.LogLevel = v, ("trace", LogLevel.Trace), ("debug", LogLevel.Debug), ("information", LogLevel.Information), ("warning", LogLevel.Warning), ("error", LogLevel.Error)) with
            { Flag = "--log-level", Help = "How much thawd logs (to stderr)." },
        Integer("open_files", c => c.Options.OpenFilesLimit, (c, v) => c.Options.OpenFilesLimit = v, 0, 1L << 30) with
            { Flag = "--open-files", Help = "RLIMIT_NOFILE thawd raises itself (and so its zygotes) to at start; it holds a few descriptors per live sandbox (0: leave the limit)." },
        Size("function_log", c => c.Options.FunctionLogBytes, (c, v) => c.Options.FunctionLogBytes = (int)v, 1L << 10, int.MaxValue),

        Text("api.listen", "string", c => c.Options.Listen, (c, v) => c.Options.Listen = v!, v => Endpoint.TryParse(v, out _) ? null : "must be host:port (e.g. 127.0.0.1:8080; port 0: any free port)") with
            { Flag = "--listen", Help = "host:port of the HTTP API (port 0: any free port). Loopback by default: the API has no authentication." },
        Text("api.unix_socket", "path", c => c.Options.UnixSocket, (c, v) => c.Options.UnixSocket = v, Absolute, optional: true) with
            { Flag = "--unix-socket", Help = "Also serve the API on this Unix socket (mode 0600)." },
        Size("api.max_event", c => c.Options.MaxEventBytes, (c, v) => c.Options.MaxEventBytes = v, 1L << 10) with
            { Flag = "--max-event", Help = "Largest event an invoke accepts." },
        Size("api.max_archive", c => c.Options.Archives.MaxArchiveBytes, (c, v) => c.Options.Archives.MaxArchiveBytes = v) with
            { Flag = "--max-archive", Help = "Largest deploy archive (compressed)." },
        Size("api.max_unpacked", c => c.Options.Archives.MaxUnpackedBytes, (c, v) => c.Options.Archives.MaxUnpackedBytes = v),
        Integer("api.max_entries", c => c.Options.Archives.MaxEntries, (c, v) => c.Options.Archives.MaxEntries = (int)v, 1, int.MaxValue),
        Boolean("api.validate_deploys", c => c.Options.ValidateOnDeploy, (c, v) => c.Options.ValidateOnDeploy = v) with
            { Flag = "--no-validate", Help = "Deploys do not start a sandbox to prove the handler loads (nor build its zygote)." },

        Integer("pools.size", c => c.PoolSize, (c, v) => c.Options.Resources.Netns.Size = c.Options.Resources.Cgroups.Size = c.Options.Resources.Roots.Size = c.PoolSize = (int)v, 1, 1024) with
            { Flag = "--pool-size", Help = "Network namespaces, cgroups and roots crafted ahead (each pool)." },
        Integer("pools.netns.size", c => c.Options.Resources.Netns.Size, (c, v) => c.Options.Resources.Netns.Size = (int)v, 1, 1024) with { Inherits = "pools.size" },
        Integer("pools.cgroups.size", c => c.Options.Resources.Cgroups.Size, (c, v) => c.Options.Resources.Cgroups.Size = (int)v, 1, 1024) with { Inherits = "pools.size" },
        Duration("pools.cgroups.kill_timeout", c => c.Options.Resources.Cgroups.KillTimeout, (c, v) => c.Options.Resources.Cgroups.KillTimeout = v, max: TimeSpan.FromMinutes(5)),
        Boolean("pools.cgroups.oom_group", c => c.Options.Resources.Cgroups.OomGroup, (c, v) => c.Options.Resources.Cgroups.OomGroup = v),
        Boolean("pools.cgroups.favordynmods", c => c.Options.Resources.Cgroups.FavorDynamicModifications, (c, v) => c.Options.Resources.Cgroups.FavorDynamicModifications = v),
        Choice("pools.cgroups.delegation", c => c.Options.Resources.Cgroups.Delegation, (c, v) => c.Options.Resources.Cgroups.Delegation = v,
            ("auto", CgroupDelegation.Auto), ("use", CgroupDelegation.Use), ("ignore", CgroupDelegation.Ignore)) with
            { Flag = "--cgroup-delegation", Help = "On a pure cgroup2 host: auto (keep every cgroup inside thawd's own cgroup when its service manager marked it delegated, as systemd's Delegate=yes does), use (take thawd's own cgroup as delegated even unmarked), ignore (a subtree of its own at the mount's root)." },
        Integer("pools.roots.size", c => c.Options.Resources.Roots.Size, (c, v) => c.Options.Resources.Roots.Size = (int)v, 1, 1024) with { Inherits = "pools.size" },
        Size("pools.roots.tmp_size", c => c.Options.Resources.Roots.TmpSizeBytes, (c, v) => c.Options.Resources.Roots.TmpSizeBytes = v, 1L << 20),
        Size("pools.roots.host_size", c => c.Options.Resources.Roots.HostSizeBytes, (c, v) => c.Options.Resources.Roots.HostSizeBytes = v, 1L << 20),

        Size("sandboxes.log_limit", c => c.Options.Sandboxes.LogLimitBytes, (c, v) => c.Options.Sandboxes.LogLimitBytes = (int)v, 1L << 10, int.MaxValue),
        Boolean("sandboxes.mount_namespace", c => c.Options.Sandboxes.MountNamespace, (c, v) => c.Options.Sandboxes.MountNamespace = v),
        Choice("sandboxes.spawn", c => c.Options.Sandboxes.Via, (c, v) => c.Options.Sandboxes.Via = v, ("thawd", SpawnVia.Thawd), ("helper", SpawnVia.Helper), ("fork", SpawnVia.Fork)),
        Duration("sandboxes.kill_timeout", c => c.Options.Sandboxes.KillTimeout, (c, v) => c.Options.Sandboxes.KillTimeout = v, max: TimeSpan.FromMinutes(5)),

        Duration("zygotes.start_timeout", c => c.Options.Sandboxes.Zygote.StartTimeout, (c, v) => c.Options.Sandboxes.Zygote.StartTimeout = v, max: TimeSpan.FromMinutes(10)),
        Integer("zygotes.parked", c => c.Options.Sandboxes.Zygote.Parked, (c, v) => c.Options.Sandboxes.Zygote.Parked = (int)v, 0, 64),
        Integer("zygotes.max_parked", c => c.Options.Sandboxes.Zygote.MaxParked, (c, v) => c.Options.Sandboxes.Zygote.MaxParked = (int)v, 0, 256),
        Duration("zygotes.park_memory", c => c.Options.Sandboxes.Zygote.ParkMemory, (c, v) => c.Options.Sandboxes.Zygote.ParkMemory = v, max: TimeSpan.FromHours(1)),
        Size("zygotes.max_parked_memory", c => c.Options.Sandboxes.Zygote.MaxParkedBytes, (c, v) => c.Options.Sandboxes.Zygote.MaxParkedBytes = v, 0),
        Boolean("zygotes.prefault", c => c.Options.Sandboxes.Zygote.Prefault, (c, v) => c.Options.Sandboxes.Zygote.Prefault = v),

        Text("import_cache.seed", "path", c => c.Options.ZygoteSeed, (c, v) => c.Options.ZygoteSeed = v, v => File.Exists(v) ? null : "does not exist", optional: true) with
            { Flag = "--zygote-seed", Help = "A file of zygotes to build at start, one per line: the modules each imports (e.g. numpy PIL)." },
        Size("import_cache.memory_budget", c => ImportCache(c).MemoryBudgetBytes, (c, v) => ImportCache(c).MemoryBudgetBytes = v, 0),
        Integer("import_cache.shared_by", c => ImportCache(c).SharedBy, (c, v) => ImportCache(c).SharedBy = (int)v, 2, 1_000_000),
        Integer("import_cache.hot_starts", c => ImportCache(c).HotStarts, (c, v) => ImportCache(c).HotStarts = (int)v, 1, 1_000_000),
        Duration("import_cache.idle_timeout", c => ImportCache(c).IdleTimeout, (c, v) => ImportCache(c).IdleTimeout = v, max: Day),
        Integer("import_cache.parked", c => ImportCache(c).Parked, (c, v) => ImportCache(c).Parked = (int)v, 0, 64),
        Duration("import_cache.fork_timeout", c => ImportCache(c).ForkTimeout, (c, v) => ImportCache(c).ForkTimeout = v, max: TimeSpan.FromMinutes(30)),

        Size("handler_cache.memory_budget", c => c.Options.HandlerCache.MemoryBudgetBytes, (c, v) => c.Options.HandlerCache.MemoryBudgetBytes = v, 32L << 20) with
            { Flag = "--memory-budget", Help = "What sandboxes (as --memory-accounting counts them) and zygotes may hold together, e.g. 4G; half the machine's memory unless set." },
        Choice("handler_cache.memory_accounting", c => c.Options.HandlerCache.Accounting, (c, v) => c.Options.HandlerCache.Accounting = v, ("measured", MemoryAccounting.Measured), ("limits", MemoryAccounting.Limits)) with
            { Flag = "--memory-accounting", Help = "How a sandbox counts against the budget: measured (its cgroup's usage + (limit - usage) / --overcommit) or limits (its whole memory limit, never overcommitted)." },
        Number("handler_cache.overcommit", c => c.Options.HandlerCache.OvercommitFactor, (c, v) => c.Options.HandlerCache.OvercommitFactor = v, 1, 1000) with
            { Flag = "--overcommit", Help = "Measured accounting's overcommit factor F (1-1000): the budget holds while no more than one sandbox in F grows to its limit at once." },
        Duration("handler_cache.keep_alive", c => c.Options.HandlerCache.KeepAlive, (c, v) => c.Options.HandlerCache.KeepAlive = v, allowZero: true, max: Day) with
            { Flag = "--keep-alive", Help = "How long an idle warm sandbox is kept (a function's keep_alive overrides it)." },
        Duration("handler_cache.freeze_after", c => c.Options.HandlerCache.FreezeAfter, (c, v) => c.Options.HandlerCache.FreezeAfter = v, max: Day) with
            { Flag = "--freeze-after", Help = "Idle this long, a warm sandbox is paused with the cgroup freezer." },
        Integer("handler_cache.queue_length", c => c.Options.HandlerCache.QueueLength, (c, v) => c.Options.HandlerCache.QueueLength = (int)v, 0, 1_000_000) with
            { Flag = "--queue-length", Help = "Calls that may wait per function when all its sandboxes are busy; more get 429." },
        Duration("handler_cache.retry_after", c => c.Options.HandlerCache.RetryAfter, (c, v) => c.Options.HandlerCache.RetryAfter = v, max: TimeSpan.FromHours(1)),
        Integer("handler_cache.redeliveries", c => c.Options.HandlerCache.Redeliveries, (c, v) => c.Options.HandlerCache.Redeliveries = (int)v, 0, 100),
        // `thaw serve` gives thawd 60 s after SIGTERM (Program.cs): a longer drain would be cut off.
        Duration("handler_cache.drain_timeout", c => c.Options.HandlerCache.DrainTimeout, (c, v) => c.Options.HandlerCache.DrainTimeout = v, max: TimeSpan.FromMinutes(1)),
        Duration("handler_cache.measure_interval", c => c.Options.HandlerCache.MeasureInterval, (c, v) => c.Options.HandlerCache.MeasureInterval = v, max: Day),

        Text("packages.wheelhouse", "path", c => c.Options.Wheelhouse, (c, v) => c.Options.Wheelhouse = v, v => Directory.Exists(v) ? null : "does not exist (a directory of wheels)", optional: true) with
            { Flag = "--wheelhouse", Help = "A directory of wheels for functions' packages." },
        Text("packages.index_url", "string", c => c.Options.IndexUrl, (c, v) => c.Options.IndexUrl = v, v => Uri.TryCreate(v, UriKind.Absolute, out _) ? null : "is not an absolute URL", optional: true) with
            { Flag = "--index-url", Help = "A pip index (PEP 503 simple pages) for functions' packages." },

        Duration("python.init_timeout", c => c.Options.Python.InitTimeout, (c, v) => c.Options.Python.InitTimeout = v, max: TimeSpan.FromMinutes(15)),
        Duration("python.min_init_timeout", c => c.Options.Python.MinInitTimeout, (c, v) => c.Options.Python.MinInitTimeout = v, max: TimeSpan.FromMinutes(15)),
        Duration("python.stop_grace", c => c.Options.Python.StopGrace, (c, v) => c.Options.Python.StopGrace = v, max: TimeSpan.FromMinutes(1)),
        Duration("python.kill_timeout", c => c.Options.Python.KillTimeout, (c, v) => c.Options.Python.KillTimeout = v, max: TimeSpan.FromMinutes(5)),
        Integer("python.start_attempts", c => c.Options.Python.StartAttempts, (c, v) => c.Options.Python.StartAttempts = (int)v, 1, 10),
        Number("python.cpu", c => c.Options.Python.CpuQuota, (c, v) => c.Options.Python.CpuQuota = v, 0.01, 1024),
        Integer("python.pids", c => c.Options.Python.PidsMax, (c, v) => c.Options.Python.PidsMax = (int)v, 1, 1_000_000),
        Integer("python.morula_pool", c => c.Options.Python.MorulaPool, (c, v) => c.Options.Python.MorulaPool = (int)v, 1, 64),

        Number("exec.cpu", c => c.Options.Exec.CpuQuota, (c, v) => c.Options.Exec.CpuQuota = v, 0.01, 1024),
        Integer("exec.pids", c => c.Options.Exec.PidsMax, (c, v) => c.Options.Exec.PidsMax = (int)v, 1, 1_000_000),
        Integer("exec.start_attempts", c => c.Options.Exec.StartAttempts, (c, v) => c.Options.Exec.StartAttempts = (int)v, 1, 10),
        Size("exec.max_output", c => c.Options.Exec.MaxOutputBytes, (c, v) => c.Options.Exec.MaxOutputBytes = (int)v, 1L << 10, int.MaxValue),
    ];

    /// <summary>The tables keys live in, parents included ("pools" for "pools.netns").</summary>
    public static IReadOnlySet<string> Sections { get; } = All.Select(s => s.Section).Where(s => s.Length > 0)
        .SelectMany(s => s.Split('.').Select((_, i) => string.Join('.', s.Split('.')[..(i + 1)]))).ToHashSet(StringComparer.OrdinalIgnoreCase);

    /// <summary>The setting of a configuration path ("api:listen") or dotted key, case as configuration keys are: ignored.</summary>
    public static ThawdSetting? Find(string key) =>
        All.FirstOrDefault(s => string.Equals(s.Key, key.Replace(':', '.'), StringComparison.OrdinalIgnoreCase));

    private static ImportCacheOptions ImportCache(ThawdConfiguration c) => c.Options.Python.ImportCache ??= new();

    private static string? NamingProblem(string name, string stateDir)
    {
        try
        {
            _ = new ThawNaming(name, stateDir);
            return null;
        }
        catch (ArgumentException e)
        {
            // ThawNaming names the value itself; keep only what is wrong with it.
            string message = e.Message;
            int must = message.IndexOf(" must ", StringComparison.Ordinal);
            return must < 0 ? message : message[(must + 1)..];
        }
    }

    private static string? Absolute(string path) => Path.IsPathFullyQualified(path) ? null : "must be an absolute path";
}
