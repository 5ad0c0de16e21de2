using System.CommandLine;
using System.Globalization;
using Microsoft.Extensions.Logging;
using Thaw.Resources;
using Thaw.Resources.Cgroups;
using Thaw.Resources.Netns;
using Thaw.Resources.Roots;
using Thaw.Runtimes;
using Thaw.Sandboxes;

namespace Thaw.Cli.Commands;

/// <summary>`thaw run`: one sandbox, like `runc run`: its output on ours, its exit code ours.</summary>
internal static class RunCommand
{
    /// <summary>Concurrent `thaw run`s each take a slot: an instance name and state dir of their own.</summary>
    private const int Slots = 10;

    /// <summary>Exit code when the timeout killed the program (as coreutils' timeout).</summary>
    public const int TimedOutExitCode = 124;

    private static readonly Option<string> Net = new("--net") { Description = "none: loopback only; bridge: a veth to the host bridge thawrunN0 with an address (no NAT).", DefaultValueFactory = _ => "none" };
    private static readonly Option<string?> Memory = new("--memory") { Description = "Memory limit, e.g. 64M (default 256M). Exceeding it gets the program OOM-killed." };
    private static readonly Option<double?> Cpus = new("--cpus") { Description = "CPU limit in CPUs, e.g. 0.5 (default 1)." };
    private static readonly Option<int?> Pids = new("--pids") { Description = "Most tasks (processes and threads) at once (default 128)." };
    private static readonly Option<string?> TimeoutOption = new("--timeout") { Description = $"Kill the program after this long, e.g. 5s or 250ms; exit code {TimedOutExitCode}." };
    private static readonly Option<string?> Code = new("--code") { Description = "A host directory bound read-only at /handler (the working directory then)." };
    private static readonly Option<string[]> Env = new("--env", "-e") { Description = "KEY=VALUE added to the environment (repeatable).", AllowMultipleArgumentsPerToken = false };
    private static readonly Option<string?> Cwd = new("--cwd") { Description = "Working directory inside the sandbox." };
    private static readonly Option<string> Hostname = new("--hostname") { Description = "The sandbox's hostname.", DefaultValueFactory = _ => "thaw" };
    private static readonly Option<string> Via = new("--via") { Description = "How the sandbox is made: thawd (this process clones it with libthawspawn's vfork-style clone, all setup in C, and is its parent; default), helper (the same clone inside the zygote) or fork (the Python zygote forks itself, as for Python functions).", DefaultValueFactory = _ => "thawd" };
    private static readonly Option<string> StateDir = new("--state-dir") { Description = "Parent of the per-slot state dirs.", DefaultValueFactory = _ => "/var/lib/thaw/run" };
    private static readonly Argument<string[]> Program = new("command") { Description = "The program and its arguments (after --).", Arity = ArgumentArity.OneOrMore };

    public static Command Create()
    {
        var command = new Command("run", "Run one program in a fresh sandbox (own pid, ipc, uts, mount and network namespaces, a read-only root, cgroup limits, an unprivileged uid, no capabilities) and return its exit code. Example: thaw run --memory 64M --timeout 5s -- /bin/sh -c 'echo hi'")
        {
            Net, Memory, Cpus, Pids, TimeoutOption, Code, Env, Cwd, Hostname, Via, StateDir, Program,
        };
        command.SetAction((parse, token) => RunAsync(parse, token));
        return command;
    }

    private static async Task<int> RunAsync(ParseResult parse, CancellationToken token)
    {
        var spec = Spec(parse);
        bool bridge = spec.Network == SandboxNetwork.Bridge;
        using var loggers = CliLogging.Create(LogLevel.Warning);
        var logger = loggers.CreateLogger("thaw");
        using var host = StartInSlot(parse.GetValue(StateDir)!, bridge, logger);
        var options = new SandboxOptions
        {
            Via = parse.GetValue(Via) switch
            {
                "thawd" => SpawnVia.Thawd,
                "helper" => SpawnVia.Helper,
                "fork" => SpawnVia.Fork,
                var v => throw new ArgumentException($"--via must be thawd, helper or fork (was '{v}')"),
            },
            // One sandbox: a child forked ahead would never be used.
            Zygote = new Thaw.Sandboxes.Zygotes.ZygoteOptions { Parked = 0 },
        };
        await using var spawner = new SandboxSpawner(host, options, logger);
        using var stdout = Console.OpenStandardOutput();
        using var stderr = Console.OpenStandardError();
        var sandbox = await spawner.RunAsync(spec, Forward(stdout), Forward(stderr));
        SandboxExit exit;
        try
        {
            exit = await sandbox.Exited.WaitAsync(token);
        }
        catch (OperationCanceledException)
        {
            await sandbox.DeleteAsync(options.KillTimeout);
            Console.Error.WriteLine("thaw: interrupted; sandbox killed");
            return 130;
        }
        return Report(exit, spec);
    }

    private static int Report(SandboxExit exit, SandboxSpec spec)
    {
        if (exit.Error is not null)
        {
            Console.Error.WriteLine($"thaw: {exit.Error}");
            return exit.ShellCode;
        }
        if (exit.TimedOut)
        {
            Console.Error.WriteLine($"thaw: killed after its timeout of {Units.FormatDuration(spec.Timeout!.Value)}");
            return TimedOutExitCode;
        }
        if (exit.OomKilled)
            Console.Error.WriteLine($"thaw: out of memory: the OOM killer acted at the sandbox's memory limit of {FormatBytes(spec.Limits?.MemoryLimitBytes ?? new CgroupPoolOptions().MemoryLimitBytes)}");
        else if (exit.Signal is int s)
            Console.Error.WriteLine($"thaw: killed by signal {s}");
        return exit.ShellCode;
    }

    private static SandboxSpec Spec(ParseResult parse)
    {
        var defaults = new CgroupPoolOptions();
        string? memory = parse.GetValue(Memory);
        double? cpus = parse.GetValue(Cpus);
        int? pids = parse.GetValue(Pids);
        var limits = memory is null && cpus is null && pids is null ? null
            : new CgroupLimits(memory is null ? defaults.MemoryLimitBytes : Units.ParseBytes(memory), cpus ?? defaults.CpuQuota, pids ?? defaults.PidsMax);
        limits?.Validate(defaults.CpuPeriodMicroseconds);
        string? code = parse.GetValue(Code);
        var env = new Dictionary<string, string>(new SandboxOptions().DefaultEnvironment);
        foreach (var pair in parse.GetValue(Env) ?? [])
        {
            int eq = pair.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0)
                throw new ArgumentException($"--env '{pair}' must be KEY=VALUE");
            env[pair[..eq]] = pair[(eq + 1)..];
        }
        return new SandboxSpec
        {
            Argv = parse.GetValue(Program)!,
            Environment = env,
            WorkingDirectory = parse.GetValue(Cwd),
            CodeDir = code is null ? null : Path.GetFullPath(code),
            Network = parse.GetValue(Net) switch
            {
                "none" => SandboxNetwork.None,
                "bridge" => SandboxNetwork.Bridge,
                var n => throw new ArgumentException($"--net must be none or bridge (was '{n}')"),
            },
            Limits = limits,
            Timeout = parse.GetValue(TimeoutOption) is { } t ? Units.ParseDuration(t) : null,
            Hostname = parse.GetValue(Hostname)!,
        };
    }

    /// <summary>Takes the first free slot: its own instance name and state dir, swept if a crash left them.</summary>
    private static ResourceHost StartInSlot(string stateDir, bool bridge, ILogger logger)
    {
        for (int slot = 0; slot < Slots; slot++)
        {
            var options = new ThawOptions
            {
                Name = "thawrun" + slot.ToString(CultureInfo.InvariantCulture),
                StateDir = Path.Combine(stateDir, slot.ToString(CultureInfo.InvariantCulture)),
                // One for the zygote, one for the sandbox: a one-off needs no deep pools.
                Netns = new NetnsPoolOptions { Size = 2 },
                EnableBridge = bridge,
                BridgeNetns = new NetnsPoolOptions { Size = 1, Mode = NetnsMode.Bridge, Subnet = $"10.214.{slot.ToString(CultureInfo.InvariantCulture)}.0/24" },
                Cgroups = new CgroupPoolOptions { Size = 2 },
                Roots = new RootPoolOptions { Size = 2 },
            };
            try
            {
                return ResourceHost.Start(options, logger);
            }
            catch (InstanceLockedException)
            {
                // Another `thaw run` holds this slot.
            }
        }
        throw new InvalidOperationException($"{Slots} `thaw run` sandboxes are already running; wait for one to finish");
    }

    private static Action<ReadOnlyMemory<byte>> Forward(Stream stream)
    {
        var gate = new Lock();
        return data =>
        {
            lock (gate)
            {
                stream.Write(data.Span);
                stream.Flush();
            }
        };
    }

    private static string FormatBytes(long bytes) => bytes >= 1 << 20
        ? (bytes / (double)(1 << 20)).ToString("0.#", CultureInfo.InvariantCulture) + " MiB"
        : bytes.ToString(CultureInfo.InvariantCulture) + " bytes";
}
