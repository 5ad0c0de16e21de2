using System.CommandLine;
using Microsoft.Extensions.Logging;
using Thaw.Runtimes;
using Thaw.Service;

namespace Thaw.Cli.Commands;

/// <summary>`thaw serve`: runs thawd in the foreground until SIGINT or SIGTERM, then stops it cleanly.</summary>
internal static class ServeCommand
{
    private static readonly Option<string> Listen = new("--listen") { Description = "host:port of the HTTP API (port 0: any free port). Loopback by default: the API has no authentication.", DefaultValueFactory = _ => "127.0.0.1:8080" };
    private static readonly Option<string?> UnixSocket = new("--unix-socket") { Description = "Also serve the API on this Unix socket (mode 0600)." };
    private static readonly Option<string> StateDir = new("--state-dir") { Description = "Registry, function code, install cache, pinned namespaces and sandbox roots.", DefaultValueFactory = _ => "/var/lib/thaw" };
    private static readonly Option<string> Name = new("--name") { Description = "Instance name: prefix of every kernel object thawd makes (cgroups, links, mounts).", DefaultValueFactory = _ => "thaw" };
    private static readonly Option<string?> MemoryBudget = new("--memory-budget") { Description = "What sandboxes (as --memory-accounting counts them) and zygotes may hold together, e.g. 4G (default: half the machine's memory)." };
    private static readonly Option<string> Accounting = new("--memory-accounting") { Description = "How a sandbox counts against the budget: measured (its cgroup's usage + (limit - usage) / --overcommit) or limits (its whole memory limit, never overcommitted).", DefaultValueFactory = _ => "measured" };
    private static readonly Option<double> Overcommit = new("--overcommit") { Description = "Measured accounting's overcommit factor F (1-1000): the budget holds while no more than one sandbox in F grows to its limit at once.", DefaultValueFactory = _ => 8 };
    private static readonly Option<string> KeepAlive = new("--keep-alive") { Description = "How long an idle warm sandbox is kept (a function's keep_alive overrides it).", DefaultValueFactory = _ => "10m" };
    private static readonly Option<string> FreezeAfter = new("--freeze-after") { Description = "Idle this long, a warm sandbox is paused with the cgroup freezer.", DefaultValueFactory = _ => "1s" };
    private static readonly Option<int> QueueLength = new("--queue-length") { Description = "Calls that may wait per function when all its sandboxes are busy; more get 429.", DefaultValueFactory = _ => 64 };
    private static readonly Option<string> MaxEvent = new("--max-event") { Description = "Largest event an invoke accepts.", DefaultValueFactory = _ => "6M" };
    private static readonly Option<string> MaxArchive = new("--max-archive") { Description = "Largest deploy archive (compressed).", DefaultValueFactory = _ => "64M" };
    private static readonly Option<int> PoolSize = new("--pool-size") { Description = "Network namespaces, cgroups and roots crafted ahead (each pool).", DefaultValueFactory = _ => 16 };
    private static readonly Option<long> OpenFiles = new("--open-files") { Description = "RLIMIT_NOFILE thawd raises itself (and so its zygotes) to at start; it holds a few descriptors per live sandbox (0: leave the limit).", DefaultValueFactory = _ => 1L << 20 };
    private static readonly Option<string?> Wheelhouse = new("--wheelhouse") { Description = "A directory of wheels for functions' packages." };
    private static readonly Option<string?> IndexUrl = new("--index-url") { Description = "A pip index (PEP 503 simple pages) for functions' packages." };
    private static readonly Option<string?> ZygoteSeed = new("--zygote-seed") { Description = "A file of zygotes to build at start, one per line: the modules each imports (e.g. numpy PIL)." };
    private static readonly Option<bool> NoValidate = new("--no-validate") { Description = "Deploys do not start a sandbox to prove the handler loads (nor build its zygote)." };
    private static readonly Option<string> Delegation = new("--cgroup-delegation") { Description = "On a pure cgroup2 host: auto (keep every cgroup inside thawd's own cgroup when its service manager marked it delegated, as systemd's Delegate=yes does), use (take thawd's own cgroup as delegated even unmarked), ignore (a subtree of its own at the mount's root).", DefaultValueFactory = _ => "auto" };
    private static readonly Option<string> LogLevelOption = new("--log-level") { Description = "trace, debug, information, warning, error.", DefaultValueFactory = _ => "information" };

    public static Command Create()
    {
        var command = new Command("serve", "Run thawd, the Thaw service: the HTTP API (deploy, invoke, list, remove, logs, stats, /metrics), pools, zygotes and the handler cache. Stops cleanly on Ctrl-C or SIGTERM.")
        {
            Listen, UnixSocket, StateDir, Name, MemoryBudget, Accounting, Overcommit, KeepAlive, FreezeAfter, QueueLength, MaxEvent, MaxArchive, PoolSize, OpenFiles, Wheelhouse, IndexUrl, ZygoteSeed, NoValidate, Delegation, LogLevelOption,
        };
        command.SetAction(RunAsync);
        return command;
    }

    /// <summary>Serves until <paramref name="stop"/> (System.CommandLine cancels it on SIGINT and SIGTERM; Program.cs gives the stop time to finish).</summary>
    private static async Task<int> RunAsync(ParseResult parse, CancellationToken stop)
    {
        var options = Options(parse);
        if (!Enum.TryParse<LogLevel>(parse.GetValue(LogLevelOption), ignoreCase: true, out var level))
            throw new ArgumentException($"--log-level must be one of trace, debug, information, warning, error (was '{parse.GetValue(LogLevelOption)}')");
        using var loggers = CliLogging.Create(level);
        await using var thawd = await Thawd.StartAsync(options, loggers);
        // One line on stdout that scripts (and `thaw demo`) wait for.
        Console.WriteLine($"thawd ready on {thawd.Url}");
        try { await Task.Delay(Timeout.Infinite, stop); }
        catch (OperationCanceledException) { }
        Console.Error.WriteLine("thawd: stopping (calls in flight finish, then every sandbox and zygote stops)...");
        return 0;
    }

    internal static ThawdOptions Options(ParseResult parse)
    {
        string stateDir = parse.GetValue(StateDir)!;
        var options = new ThawdOptions
        {
            Listen = parse.GetValue(Listen)!,
            UnixSocket = parse.GetValue(UnixSocket),
            MaxEventBytes = Units.ParseBytes(parse.GetValue(MaxEvent)!),
            Wheelhouse = parse.GetValue(Wheelhouse),
            IndexUrl = parse.GetValue(IndexUrl),
            ValidateOnDeploy = !parse.GetValue(NoValidate),
            ZygoteSeed = parse.GetValue(ZygoteSeed),
            OpenFilesLimit = parse.GetValue(OpenFiles),
        };
        options.Resources.Name = parse.GetValue(Name)!;
        options.Resources.StateDir = stateDir;
        int size = parse.GetValue(PoolSize);
        if (size is < 1 or > 1024)
            throw new ArgumentException($"--pool-size must be 1-1024 (was {size})");
        options.Resources.Netns.Size = options.Resources.Cgroups.Size = options.Resources.Roots.Size = size;
        options.Resources.Cgroups.Delegation = parse.GetValue(Delegation) switch
        {
            "auto" => Thaw.Resources.Cgroups.CgroupDelegation.Auto,
            "use" => Thaw.Resources.Cgroups.CgroupDelegation.Use,
            "ignore" => Thaw.Resources.Cgroups.CgroupDelegation.Ignore,
            var other => throw new ArgumentException($"--cgroup-delegation must be auto, use or ignore (was '{other}')"),
        };
        options.Archives.MaxArchiveBytes = Units.ParseBytes(parse.GetValue(MaxArchive)!);
        if (parse.GetValue(MemoryBudget) is { } budget)
            options.HandlerCache.MemoryBudgetBytes = Units.ParseBytes(budget);
        options.HandlerCache.Accounting = parse.GetValue(Accounting) switch
        {
            "measured" => Thaw.Service.Scheduling.MemoryAccounting.Measured,
            "limits" => Thaw.Service.Scheduling.MemoryAccounting.Limits,
            var other => throw new ArgumentException($"--memory-accounting must be measured or limits (was '{other}')"),
        };
        options.HandlerCache.OvercommitFactor = parse.GetValue(Overcommit);
        options.HandlerCache.KeepAlive = Units.ParseDuration(parse.GetValue(KeepAlive)!, allowZero: true);
        options.HandlerCache.FreezeAfter = Units.ParseDuration(parse.GetValue(FreezeAfter)!);
        options.HandlerCache.QueueLength = parse.GetValue(QueueLength);
        return options;
    }
}
