using Microsoft.Extensions.Logging.Abstractions;
using Spectre.Console;
using Thaw.Resources;
using Thaw.Resources.Cgroups;
using Thaw.Resources.Netns;
using Thaw.Resources.Pooling;
using Thaw.Resources.Roots;
using Thaw.Sandboxes;

namespace Thaw.Cli.Bench.Startup;

internal sealed record StartupBenchOptions(
    IReadOnlyList<int> Concurrency, IReadOnlyList<string> Baselines, int Samples, int PeerSamples,
    string StateDir, bool StartDocker, bool Variants);

/// <summary>One row of the JSON: {"system","concurrency","median_ms","p99_ms","wall_ms"} (+ samples).</summary>
internal sealed record StartupResult(string System, int Concurrency, double MedianMs, double P99Ms, double WallMs, int Samples);

internal sealed record StartupReport(IReadOnlyList<StartupResult> Results, IReadOnlyList<string> Notes, string Host, DateTime StartedUtc);

/// <summary>
/// `thaw bench startup`: request to a sandboxed /bin/true having exited, for bursts of N at once,
/// Thaw against runc and Docker in one run, all starting the same busybox rootfs.
/// </summary>
internal sealed class StartupBench(StartupBenchOptions options, IAnsiConsole console)
{
    private readonly string _dir = Path.Combine(options.StateDir, "bench-startup");
    private readonly List<StartupResult> _results = [];
    private readonly List<string> _notes = [];

    public StartupReport Run()
    {
        var started = DateTime.UtcNow;
        Directory.CreateDirectory(_dir);
        string rootfs = BusyboxRootfs.Create(Path.Combine(_dir, "rootfs"), Say);
        int slots = options.Concurrency.Max();
        using (var host = StartThaw(rootfs, slots))
        {
            // The exec runtime's vfork spawn never uses children parked by the zygote: none kept.
            var noParked = new Thaw.Sandboxes.Zygotes.ZygoteOptions { Parked = 0 };
            var variants = new List<(string Name, SandboxOptions Options)> { ("thaw", new SandboxOptions { Zygote = noParked }) };
            if (options.Variants)
            {
                variants.Add(("thaw-zygote", new SandboxOptions { Via = SpawnVia.Helper, Zygote = noParked }));
                variants.Add(("thaw-no-mntns", new SandboxOptions { MountNamespace = false, Zygote = noParked }));
                // What the seccomp filter every sandbox installs costs, beside "thaw" in the same bursts.
                variants.Add(("thaw-no-seccomp", new SandboxOptions { Zygote = new Thaw.Sandboxes.Zygotes.ZygoteOptions { Parked = 0, Seccomp = false } }));
            }
            // Burst by burst in turn, so the shared VM's load drifts over all of them alike and their
            // ratios compare like with like.
            MeasureInterleaved([.. variants.Select(v => new ThawSystem(v.Name, host, v.Options, NullLogger.Instance))], options.Samples);
            // Alone: its zygote re-parks and pre-faults a child after every start (~100 ms of CPU),
            // which would land in the others' bursts.
            if (options.Variants)
                MeasureInterleaved([new ThawSystem("thaw-fork", host, new SandboxOptions { Via = SpawnVia.Fork }, NullLogger.Instance)], options.Samples);
        }
        foreach (int c in options.Concurrency)
            if (console.Status().Start($"floor: bursts of {c}", _ => StartupFloor.Measure(c, options.Samples, rootfs)) is { } floor)
                _results.Add(floor);
        foreach (var baseline in options.Baselines)
        {
            Func<IStartupSystem> make = baseline switch
            {
                "runc" => () => new RuncSystem(Path.Combine(_dir, "runc"), rootfs, slots, Say),
                "docker" => () => new DockerSystem(Path.Combine(_dir, "docker"), rootfs, options.StartDocker, Say),
                _ => throw new ArgumentException($"--baseline: unknown system '{baseline}' (runc, docker or none)"),
            };
            Measure(make, options.PeerSamples);
        }
        Directory.Delete(_dir, recursive: true);
        return new StartupReport(_results, _notes, Environment.MachineName, started);
    }

    private void Measure(Func<IStartupSystem> make, int samples)
    {
        IStartupSystem system;
        try
        {
            system = make();
        }
        catch (InvalidOperationException e)
        {
            _notes.Add(e.Message);
            console.MarkupLine($"[yellow]skipped:[/] {Markup.Escape(e.Message)}");
            return;
        }
        using (system)
        {
            foreach (int c in options.Concurrency)
                _results.Add(console.Status().Start($"{system.Name}: bursts of {c}", _ => MeasureBursts(system, c, samples)));
        }
    }

    /// <summary>Several systems (Thaw's variants), one burst of each in turn, per burst size.</summary>
    private void MeasureInterleaved(IReadOnlyList<IStartupSystem> systems, int samples)
    {
        var rows = new List<StartupResult>();
        try
        {
            console.Status().Start($"{string.Join(", ", systems.Select(s => s.Name))}: warming up", _ => WarmUp(systems));
            foreach (int c in options.Concurrency)
            {
                string names = string.Join(", ", systems.Select(s => s.Name));
                rows.AddRange(console.Status().Start($"{names}: bursts of {c}, in turn", _ => MeasureBursts(systems, c, samples)));
            }
        }
        finally
        {
            foreach (var system in systems)
                system.Dispose();
        }
        // Rows grouped by system, as the other systems' are.
        _results.AddRange(rows.OrderBy(r => systems.Select(s => s.Name).ToList().IndexOf(r.System)).ThenBy(r => r.Concurrency));
    }

    /// <summary>Thaw's systems run in this process: warmed up past .NET's JIT first (<see cref="JitWarmUp"/>).</summary>
    private static void WarmUp(IReadOnlyList<IStartupSystem> systems) =>
        JitWarmUp.UntilIdle(() =>
        {
            foreach (var system in systems)
            {
                system.Settle();
                Burst.Run(10, i => system.RunOnce(i));
            }
        }, minRounds: 8);

    private static StartupResult MeasureBursts(IStartupSystem system, int concurrency, int samples) =>
        MeasureBursts([system], concurrency, samples)[0];

    private static List<StartupResult> MeasureBursts(IReadOnlyList<IStartupSystem> systems, int concurrency, int samples)
    {
        foreach (var system in systems)
        {
            system.Settle();
            Burst.Run(concurrency, i => system.RunOnce(i)); // warm-up burst, not recorded
        }
        var latencies = systems.Select(_ => new List<double>()).ToList();
        var walls = systems.Select(_ => new List<double>()).ToList();
        int bursts = Math.Max(concurrency == 1 ? 10 : 2, (samples + concurrency - 1) / concurrency);
        for (int b = 0; b < bursts; b++)
        {
            for (int k = 0; k < systems.Count; k++)
            {
                var system = systems[k];
                system.Settle();
                var own = new double[concurrency];
                var (_, wall) = Burst.Run(concurrency, i => own[i] = system.RunOnce(i));
                latencies[k].AddRange(own);
                walls[k].Add(wall);
            }
        }
        return [.. systems.Select((system, k) =>
        {
            latencies[k].Sort();
            walls[k].Sort();
            return new StartupResult(system.Name, concurrency, LatencyReservoir.Percentile(latencies[k], 0.5),
                LatencyReservoir.Percentile(latencies[k], 0.99), LatencyReservoir.Percentile(walls[k], 0.5), latencies[k].Count);
        })];
    }

    private ResourceHost StartThaw(string rootfs, int slots)
    {
        var thaw = new ThawOptions
        {
            Name = "thawbs",
            StateDir = Path.Combine(_dir, "thaw"),
            // As deep as the largest burst (plus the zygotes'), so a burst claims from full pools.
            Netns = new NetnsPoolOptions { Size = slots + 3 },
            Cgroups = new CgroupPoolOptions { Size = slots + 3 },
            Roots = new RootPoolOptions { Size = slots + 3, BaseRoot = rootfs, BaseDirs = ["bin"] },
        };
        var host = ResourceHost.Start(thaw, NullLogger.Instance);
        foreach (var pool in host.Pools())
            pool.WaitUntilFull(TimeSpan.FromSeconds(120));
        return host;
    }

    private void Say(string message) => console.MarkupLine($"[grey]{Markup.Escape(message)}[/]");
}
