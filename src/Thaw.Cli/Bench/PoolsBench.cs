using System.Diagnostics;
using Microsoft.Extensions.Logging.Abstractions;
using Spectre.Console;
using Thaw.Resources;
using Thaw.Resources.Cgroups;
using Thaw.Resources.Roots;
using Thaw.Resources.Netns;
using Thaw.Resources.Pooling;

namespace Thaw.Cli.Bench;

internal sealed record PoolsBenchOptions(IReadOnlyList<int> Concurrency, IReadOnlySet<string>? Only, string StateDir, int MinSamples, int RefillRate, double RefillSeconds, int MemoryCount);

/// <summary>
/// `thaw bench pools`: for each pooled resource and burst size, the latency of a claim from a warm
/// pool against crafting the resource fresh (Thaw's own miss path) and, for network namespaces,
/// against the `ip` way container engines do it, all in one run. Also the kernel memory that 50
/// pooled namespaces pin, and whether the refill keeps up with a steady claim rate.
/// </summary>
internal sealed class PoolsBench(PoolsBenchOptions options, IAnsiConsole console)
{
    private readonly ThawNaming _naming = new("thawb", Path.Combine(options.StateDir, "bench"));
    private readonly List<PoolBenchResult> _results = [];
    private readonly string _codeDir = Path.Combine(options.StateDir, "bench-code");

    private sealed record Resource(string Name, Func<int, IBenchTarget> Make, bool? IpBridge);

    public PoolBenchReport Run()
    {
        var started = DateTime.UtcNow;
        Sweep();
        Directory.CreateDirectory(_naming.StateDir);
        Directory.CreateDirectory(_codeDir);
        File.WriteAllText(Path.Combine(_codeDir, "f.py"), "def f(event):\n    return event\n");
        var resources = Resources().Where(r => options.Only is null || options.Only.Contains(r.Name)).ToList();
        var memory = new List<PoolMemoryResult>();
        var refill = new List<RefillResult>();
        try
        {
            using (var ip = new IpPeer("10.215.0"))
            {
                // Memory first: namespaces destroyed by later steps are freed asynchronously and would blur it.
                memory.Add(Status($"ip netns: kernel memory of {options.MemoryCount}", () => MeasureIpMemory(ip)));
                foreach (var r in resources.Where(r => r.IpBridge is not null))
                    memory.Add(Status($"{r.Name}: kernel memory of {options.MemoryCount} pooled", () => MeasureMemory(r)));
                foreach (var r in resources)
                    foreach (int c in options.Concurrency)
                    {
                        _results.Add(Status($"{r.Name} c={c}: claim from pool", () => MeasurePool(r, c)));
                        _results.Add(Status($"{r.Name} c={c}: fresh creation", () => MeasureFresh(r, c)));
                        if (r.IpBridge is bool bridge)
                            _results.Add(Status($"{r.Name} c={c}: ip (container-engine way)", () => MeasureIp(ip, bridge, c)));
                    }
            }
            foreach (var r in resources)
                refill.Add(Status($"{r.Name}: refill at {options.RefillRate} claims/s", () => MeasureRefill(r)));
        }
        finally
        {
            Sweep();
        }
        return new PoolBenchReport(_results, memory, refill, Environment.MachineName, started);
    }

    private List<Resource> Resources()
    {
        var log = NullLogger.Instance;
        return
        [
            new("netns-none", size =>
            {
                var p = new NetnsPool(_naming, new NetnsPoolOptions { Size = size }, log);
                return new BenchTarget<PooledNetns>(p.Pool, p.Claim, p.Release, p);
            }, IpBridge: false),
            new("netns-bridge", size =>
            {
                var p = new NetnsPool(_naming, new NetnsPoolOptions { Size = size, Mode = NetnsMode.Bridge, Subnet = "10.214.0.0/16" }, log);
                return new BenchTarget<PooledNetns>(p.Pool, p.Claim, p.Release, p);
            }, IpBridge: true),
            new("cgroup", size =>
            {
                // The claim writes memory, cpu and pids limits, as a sandbox start does.
                var limits = new CgroupLimits(128L << 20, 0.5, 64);
                var p = new CgroupPool(_naming, new CgroupPoolOptions { Size = size }, log);
                return new BenchTarget<SandboxCgroup>(p.Pool, () => p.Claim(limits), p.Release, p);
            }, IpBridge: null),
            new("root", size =>
            {
                // The claim bind-mounts the function's code read-only at /handler, as a sandbox start does.
                var p = new RootPool(_naming, new RootPoolOptions { Size = size }, log);
                return new BenchTarget<SandboxRoot>(p.Pool, () => p.Claim(_codeDir), p.Release, p);
            }, IpBridge: null),
        ];
    }

    private PoolBenchResult MeasurePool(Resource r, int c)
    {
        using var target = r.Make(Math.Max(c, 8));
        Fill(target);
        var result = Rounds(r.Name, "pool", c, Math.Max(5, options.MinSamples / c), _ => target.Claim(), items =>
        {
            foreach (var item in items) target.Release(item);
            Fill(target);
        });
        if (target.Stats().Misses > 0)
            console.MarkupLine($"[yellow]note:[/] {r.Name} c={c}: {target.Stats().Misses} claims missed the pool");
        return result;
    }

    private PoolBenchResult MeasureFresh(Resource r, int c)
    {
        // A pool of size 0: every claim is a miss, i.e. exactly Thaw's synchronous creation path.
        using var target = r.Make(0);
        return Rounds(r.Name, "fresh", c, Math.Max(3, options.MinSamples / 4 / c), _ => target.Claim(), items =>
        {
            foreach (var item in items) target.Release(item);
            // Let the background destroys finish so they do not slow the next burst.
            var sw = Stopwatch.StartNew();
            while (target.Stats().Destroyed < target.Stats().Created && sw.ElapsedMilliseconds < 10_000)
                Thread.Sleep(1);
        });
    }

    private PoolBenchResult MeasureIp(IpPeer ip, bool bridge, int c) =>
        Rounds(bridge ? "netns-bridge" : "netns-none", "ip", c, Math.Max(3, options.MinSamples / 8 / c),
            _ => ip.Create(bridge), names => Burst.Run(c, k => IpPeer.Destroy((string)names[k])));

    /// <summary>Bursts of <paramref name="c"/> operations, <paramref name="rounds"/> times, undoing each burst untimed.</summary>
    private static PoolBenchResult Rounds(string resource, string path, int c, int rounds, Func<int, object> operation, Action<object[]> undo)
    {
        var latencies = new List<double>();
        var walls = new List<double>();
        var items = new object[c];
        for (int i = 0; i < rounds; i++)
        {
            var (lat, wall) = Burst.Run(c, k => items[k] = operation(k));
            latencies.AddRange(lat);
            walls.Add(wall);
            undo(items);
        }
        return Summarise(resource, path, c, latencies, walls);
    }

    private PoolMemoryResult MeasureMemory(Resource r)
    {
        Thread.Sleep(500);
        long before = KernelMemory.ReadKib();
        using var target = r.Make(options.MemoryCount);
        Fill(target);
        Thread.Sleep(500);
        long after = KernelMemory.ReadKib();
        return new PoolMemoryResult(r.Name, options.MemoryCount, after - before, KernelMemory.Measure);
    }

    /// <summary>The same count of namespaces made by `ip netns add` (lo up): the kernel's own floor.</summary>
    private PoolMemoryResult MeasureIpMemory(IpPeer ip)
    {
        Thread.Sleep(500);
        long before = KernelMemory.ReadKib();
        var names = Enumerable.Range(0, options.MemoryCount).Select(_ => ip.Create(bridge: false)).ToList();
        Thread.Sleep(500);
        long after = KernelMemory.ReadKib();
        foreach (var n in names) IpPeer.Destroy(n);
        return new PoolMemoryResult("netns-none (ip netns add)", options.MemoryCount, after - before, KernelMemory.Measure);
    }

    private RefillResult MeasureRefill(Resource r)
    {
        using var target = r.Make(16);
        Fill(target);
        var held = new List<object>();
        var claimLatency = new List<double>();
        long total = (long)(options.RefillRate * options.RefillSeconds);
        var clock = Stopwatch.StartNew();
        for (long i = 0; i < total; i++)
        {
            // Paced, not bursty: claim number i is due at i / rate seconds.
            double due = i * 1000.0 / options.RefillRate;
            while (clock.Elapsed.TotalMilliseconds < due)
                Thread.Sleep(TimeSpan.FromMilliseconds(Math.Clamp(due - clock.Elapsed.TotalMilliseconds, 0, 1)));
            long start = Stopwatch.GetTimestamp();
            held.Add(target.Claim());
            claimLatency.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
        }
        double seconds = clock.Elapsed.TotalSeconds;
        var stats = target.Stats();
        foreach (var item in held) target.Release(item);
        claimLatency.Sort();
        return new RefillResult(r.Name, options.RefillRate, total / seconds, stats.Claims, stats.Misses, LatencyReservoir.Percentile(claimLatency, 0.99));
    }

    private static void Fill(IBenchTarget target)
    {
        if (!target.WaitUntilFull(TimeSpan.FromSeconds(60)))
            throw new TimeoutException($"pool did not fill within 60 s: {target.Stats()}");
    }

    private static PoolBenchResult Summarise(string resource, string path, int c, List<double> latencies, List<double> walls)
    {
        latencies.Sort();
        walls.Sort();
        return new PoolBenchResult(resource, path, c,
            Math.Round(LatencyReservoir.Percentile(latencies, 0.5), 4), Math.Round(LatencyReservoir.Percentile(latencies, 0.99), 4),
            Math.Round(LatencyReservoir.Percentile(walls, 0.5), 3), latencies.Count);
    }

    private T Status<T>(string what, Func<T> work)
    {
        T result = default!;
        console.Status().Start(what, _ => result = work());
        console.MarkupLine($"[grey]done:[/] {Markup.Escape(what)}");
        return result;
    }

    private void Sweep()
    {
        ResourceHost.Sweep(_naming, Thaw.Linux.Cgroups.CgroupHierarchy.Detect());
        if (Directory.Exists(_codeDir))
            Directory.Delete(_codeDir, recursive: true);
        if (Directory.Exists(_naming.StateDir) && !Directory.EnumerateFileSystemEntries(_naming.StateDir).Any())
            Directory.Delete(_naming.StateDir);
    }
}
