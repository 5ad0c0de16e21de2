using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text;
using Microsoft.Extensions.Logging;
using Spectre.Console;
using Thaw.Cli.Client;
using Thaw.Linux.Cgroups;
using Thaw.Linux.Mounts;
using Thaw.Service;
using Thaw.Service.Scheduling;

namespace Thaw.Cli.Bench.Density;

/// <summary>
/// `thaw bench density`: how many idle warm hello sandboxes one node holds, what each costs and how
/// fast each comes back. thawd runs in this process; the bench holds that many sandboxes at once
/// through its handler cache (a sandbox serves one call at a time, so holding N leases is what makes
/// N of them), lets them all go idle and frozen, measures their memory (USS, the kernel's share) and
/// the node's limits they run into, then resumes each one (thaw + a call over its socket) and stops
/// them all. A start that fails ends the fill: what stopped it is the bound, reported as found.
/// </summary>
internal sealed class DensityBench(DensityOptions options, IAnsiConsole console)
{
    /// <summary>The manifest's ceiling on concurrency: more sandboxes than that take more functions.</summary>
    private const int PerFunction = 1000;
    private static readonly ReadOnlyMemory<byte> Event = Encoding.UTF8.GetBytes("""{"name":"bench"}""");
    private readonly List<string> _notes = [];

    public async Task<DensityReport> RunAsync(CancellationToken token)
    {
        var started = DateTime.UtcNow;
        using var loggers = CliLogging.Create(LogLevel.Warning);
        long available = NodeCensus.KeyValues("/proc/meminfo").GetValueOrDefault("MemAvailable") * 1024;
        var thawdOptions = new ThawdOptions { Listen = "127.0.0.1:0", OpenFilesLimit = options.OpenFiles };
        thawdOptions.Resources.Name = "thawbd";
        thawdOptions.Resources.StateDir = Path.Combine(options.StateDir, "bench-density");
        thawdOptions.Resources.Netns.Size = thawdOptions.Resources.Cgroups.Size = thawdOptions.Resources.Roots.Size = options.PoolSize;
        if (options.PooledCgroupMemory is { } pooled)
            thawdOptions.Resources.Cgroups.MemoryLimitBytes = pooled;
        // Idle sandboxes only: the zygote keeps just its one parked child (demand from the fill would
        // park up to 64 more, whose descriptors and memory are not an idle sandbox's).
        thawdOptions.Sandboxes.Zygote.MaxParked = thawdOptions.Sandboxes.Zygote.Parked;
        var cacheOptions = thawdOptions.HandlerCache;
        cacheOptions.MemoryBudgetBytes = options.BudgetBytes ?? available * 4 / 5;
        cacheOptions.Accounting = MemoryAccounting.Measured;
        cacheOptions.OvercommitFactor = options.Overcommit;
        cacheOptions.KeepAlive = TimeSpan.FromHours(1);
        cacheOptions.QueueLength = 0;
        var thawd = await console.Status().StartAsync("starting thawd (pools, zygote)...", _ => Thawd.StartAsync(thawdOptions, loggers));
        string work = Directory.CreateTempSubdirectory("thaw-bench-density-").FullName;
        var leases = new ConcurrentQueue<SandboxLease>();
        var cache = thawd.Cache;
        try
        {
            using var client = new ThawClient(thawd.Url.ToString(), TimeSpan.FromSeconds(120));
            int functions = (options.Count + PerFunction - 1) / PerFunction;
            var names = Enumerable.Range(0, functions).Select(i => $"hello-{i}").ToArray();
            await console.Status().StartAsync($"deploying {functions} copies of hello (memory {options.FunctionMemory}) and calling each once...", async _ =>
            {
                foreach (var name in names)
                {
                    await DeployAsync(client, work, name, (options.Count + functions - 1) / functions);
                    var call = await client.InvokeAsync(name, Event.ToArray(), token);
                    if (!call.Succeeded)
                        throw new InvalidOperationException($"{name}: {call.Status} {Encoding.UTF8.GetString(call.Body)}");
                }
                // Each function's first sandbox frozen and measured: the rest are charged as it is.
                await UntilAsync(() => cache.Stats().MeasuredSandboxes >= functions, TimeSpan.FromSeconds(60), token);
            });

            var zygotePid = await ZygotePidAsync(client, token);
            string memcgParent = Path.Combine(CgroupHierarchy.Detect().Find("memory")!.MountPath, thawdOptions.Resources.Name);
            var before = NodeCensus.Take(zygotePid, memcgParent);
            long tasksBefore = NodeLimits.Tasks(), memcgsBefore = NodeLimits.MemoryCgroups();
            // The functions' first sandboxes are in the census already: the fill adds the rest.
            int already = cache.Stats().Functions.Sum(f => f.Instances);

            var fill = Stopwatch.StartNew();
            string? stoppedBy = await FillAsync(cache, names, leases, token);
            double fillSeconds = fill.Elapsed.TotalSeconds;
            var filled = leases.Select(l => l.Sandbox).ToList();
            foreach (var lease in leases)
                cache.Release(lease, healthy: true);
            leases.Clear();

            var freeze = Stopwatch.StartNew();
            int total = cache.Stats().Functions.Sum(f => f.Instances);
            await console.Progress().AutoClear(false).StartAsync(async ctx =>
            {
                var task = ctx.AddTask("idle sandboxes frozen (and measured)", maxValue: total);
                while (!token.IsCancellationRequested)
                {
                    var s = cache.Stats();
                    task.Value = s.Functions.Sum(f => f.Frozen);
                    if (task.Value >= total && s.MeasuredSandboxes >= total)
                        break;
                    if (freeze.Elapsed > TimeSpan.FromMinutes(10))
                        throw new TimeoutException($"only {task.Value} of {total} idle sandboxes frozen after 10 minutes");
                    await Task.Delay(200, token);
                }
            });
            double freezeSeconds = freeze.Elapsed.TotalSeconds;

            var after = NodeCensus.Take(zygotePid, memcgParent);
            long tasksAfter = NodeLimits.Tasks(), memcgsAfter = NodeLimits.MemoryCgroups();
            int added = Math.Max(1, total - already);
            var stats = cache.Stats();
            var budget = new DensityBudget("measured", stats.OvercommitFactor, stats.BudgetBytes, stats.ReservedBytes, stats.LimitBytes, stats.MeasuredBytes, stats.ZygoteBytes);
            // A spread sample, read while frozen: what each holds idle.
            int every = Math.Max(1, filled.Count / Math.Max(1, options.MemorySamples));
            var sampled = await console.Status().StartAsync("reading idle sandboxes' memory (smaps_rollup, cgroup)...", _ => Task.Run(() =>
                filled.Where((_, i) => i % every == 0).Take(options.MemorySamples).Select(s => SandboxMemory.Read(s.Python.Sandbox.Cgroup)).ToList(), token));
            var memory = Memory(sampled, before, after, added);

            // Resume: take each frozen sandbox in turn (held, so the next call gets another one).
            var resume = await ResumeAsync(cache, names, Math.Min(options.ResumeCount ?? total, total), leases, token);
            while (leases.TryDequeue(out var lease))
                cache.Release(lease, healthy: true);

            var bounds = Bounds(before, after, added, tasksBefore, tasksAfter, memcgsBefore, memcgsAfter, zygotePid, stats, total);
            var report = new DensityReport(options.Count, total, functions, stoppedBy, fillSeconds, freezeSeconds, 0, memory, resume, budget, bounds, [], _notes,
                Environment.MachineName, started);
            // Printed before the teardown: stopping thousands of sandboxes takes a while of its own.
            DensityReportWriter.Print(report, console);
            var stop = Stopwatch.StartNew();
            await console.Status().StartAsync($"stopping thawd and its {total} sandboxes...", _ => thawd.DisposeAsync().AsTask());
            thawd = null;
            report = report with { StopSeconds = stop.Elapsed.TotalSeconds, LeftBehind = LeftBehind(thawdOptions) };
            DensityReportWriter.PrintTeardown(report, console);
            return report;
        }
        finally
        {
            // Held sandboxes are busy to the handler cache, which stops busy ones only when released.
            while (leases.TryDequeue(out var lease))
                cache.Release(lease, healthy: false);
            Directory.Delete(work, recursive: true);
            if (thawd is not null)
                await thawd.DisposeAsync();
            if (MountTable.Read().MountPointsUnder(thawdOptions.Resources.StateDir).Count == 0 && Directory.Exists(thawdOptions.Resources.StateDir))
                Directory.Delete(thawdOptions.Resources.StateDir, recursive: true);
        }
    }

    /// <summary>Starts and holds sandboxes, <see cref="DensityOptions.Parallel"/> starts at a time, until the count or the first failure (returned).</summary>
    private async Task<string?> FillAsync(HandlerCache cache, string[] names, ConcurrentQueue<SandboxLease> leases, CancellationToken token)
    {
        int next = 0;
        string? failure = null;
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(token);
        await console.Progress().AutoClear(false).Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new RemainingTimeColumn())
            .StartAsync(async ctx =>
            {
                var task = ctx.AddTask($"idle hello sandboxes started and held ({options.Parallel} starts at a time)", maxValue: options.Count);
                var workers = Enumerable.Range(0, options.Parallel).Select(_ => Task.Run(async () =>
                {
                    while (!stop.IsCancellationRequested)
                    {
                        int i = Interlocked.Increment(ref next) - 1;
                        if (i >= options.Count)
                            return;
                        try
                        {
                            leases.Enqueue(await cache.AcquireAsync(names[i % names.Length], stop.Token));
                            task.Increment(1);
                        }
                        catch (OperationCanceledException) when (stop.IsCancellationRequested) { return; }
                        catch (Exception e)
                        {
                            Interlocked.CompareExchange(ref failure, $"sandbox {i + 1}: {e.GetType().Name}: {e.Message}", null);
                            await stop.CancelAsync();
                            return;
                        }
                    }
                })).ToList();
                await Task.WhenAll(workers);
            });
        if (failure is not null)
            console.MarkupLine($"[yellow]the fill stopped at {leases.Count} sandboxes:[/] {Markup.Escape(failure)}");
        return failure;
    }

    /// <summary>
    /// Each of <paramref name="count"/> frozen sandboxes in turn: the handler cache's take (thaw) and
    /// one call over its socket, timed together; held, so the next take thaws another one.
    /// </summary>
    private async Task<DensityResume> ResumeAsync(HandlerCache cache, string[] names, int count, ConcurrentQueue<SandboxLease> leases, CancellationToken token)
    {
        var times = new List<double>();
        var thaws = new List<double>();
        int cold = 0;
        await console.Progress().AutoClear(false).StartAsync(async ctx =>
        {
            var task = ctx.AddTask("frozen sandboxes resumed (thaw + call)", maxValue: count);
            for (int i = 0; i < count; i++)
            {
                long t = Stopwatch.GetTimestamp();
                var lease = await cache.AcquireAsync(names[i % names.Length], token);
                leases.Enqueue(lease);
                var result = await lease.Sandbox.Python.InvokeAsync(Event, TimeSpan.FromSeconds(10), token);
                times.Add(Stopwatch.GetElapsedTime(t).TotalMilliseconds);
                if (!result.Succeeded)
                    throw new InvalidOperationException($"resumed sandbox {lease.Sandbox.Id} failed its call");
                thaws.Add(lease.ThawMs);
                cold += lease.Cold ? 1 : 0;
                task.Increment(1);
            }
        });
        return new DensityResume(count, Percentile(times, 50), Percentile(times, 99), Percentile(thaws, 50), cold);
    }

    private DensityMemory Memory(List<SandboxMemory> sampled, NodeCensus before, NodeCensus after, int added)
    {
        if (sampled.Count == 0)
            _notes.Add("no frozen sandbox was left to sample (resume count = all and memory samples 0)");
        long Median(Func<SandboxMemory, long> f) => sampled.Count == 0 ? 0 : (long)Percentile([.. sampled.Select(s => (double)f(s))], 50);
        return new DensityMemory(sampled.Count, sampled.Count == 0 ? 0 : sampled.Average(s => s.Processes),
            Median(s => s.UssBytes), Median(s => s.PssBytes), Median(s => s.RssBytes), Median(s => s.PageTableBytes), Median(s => s.CgroupBytes), Median(s => s.CgroupKernelBytes),
            (before.MemAvailableBytes - after.MemAvailableBytes) / added,
            (after.KernelUnreclaimableBytes - before.KernelUnreclaimableBytes) / added,
            (after.PageTableBytes - before.PageTableBytes) / added,
            (after.ThawdRssBytes - before.ThawdRssBytes) / added);
    }

    private static List<DensityBound> Bounds(NodeCensus before, NodeCensus after, int added, long tasksBefore, long tasksAfter, long memcgsBefore, long memcgsAfter,
        int zygotePid, HandlerCacheStats stats, int held)
    {
        double Per(long a, long b) => (b - a) / (double)added;
        long thawdFiles = NodeLimits.OpenFiles(Environment.ProcessId), zygoteFiles = NodeLimits.OpenFiles(zygotePid);
        long pidMax = NodeLimits.Sysctl("kernel.pid_max");
        return
        [
            new("memory (MemAvailable)", Per(after.MemAvailableBytes, before.MemAvailableBytes), before.MemAvailableBytes, before.MemAvailableBytes, "/proc/meminfo"),
            new("memory budget (measured + headroom)", stats.ReservedBytes / (double)Math.Max(1, held), stats.BudgetBytes, stats.BudgetBytes - stats.ZygoteBytes, "thawd's handler cache"),
            new("thawd file descriptors", Per(before.ThawdFds, after.ThawdFds), thawdFiles, thawdFiles - before.ThawdFds, "RLIMIT_NOFILE (thaw serve --open-files)"),
            new("root zygote file descriptors", Per(before.ZygoteFds, after.ZygoteFds), zygoteFiles, zygoteFiles - before.ZygoteFds, "its RLIMIT_NOFILE (thawd's)"),
            new("kernel tasks (pids)", Per(tasksBefore, tasksAfter), pidMax, pidMax - tasksBefore, "kernel.pid_max"),
            new("mounts in thawd's mount namespace", Per(before.Mounts, after.Mounts), NodeLimits.Sysctl("fs.mount-max"), NodeLimits.Sysctl("fs.mount-max") - before.Mounts, "fs.mount-max"),
            new("memory cgroups", Per(memcgsBefore, memcgsAfter), NodeLimits.MemoryCgroupIds, NodeLimits.MemoryCgroupIds - memcgsBefore, "16-bit memcg ids"),
            new("network namespaces", 1, NodeLimits.Sysctl("user.max_net_namespaces"), NodeLimits.Sysctl("user.max_net_namespaces"), "user.max_net_namespaces; one per sandbox by design"),
            new("mount namespaces", 1, NodeLimits.Sysctl("user.max_mnt_namespaces"), NodeLimits.Sysctl("user.max_mnt_namespaces"), "user.max_mnt_namespaces; one per sandbox by design"),
            new("pid namespaces", 1, NodeLimits.Sysctl("user.max_pid_namespaces"), NodeLimits.Sysctl("user.max_pid_namespaces"), "user.max_pid_namespaces; one per sandbox by design"),
        ];
    }

    private static List<string> LeftBehind(ThawdOptions o)
    {
        var left = new List<string>();
        left.AddRange(MountTable.Read().MountPointsUnder(o.Resources.StateDir).Select(m => "mount " + m));
        left.AddRange(CgroupHierarchy.Detect().MountPaths.Select(m => Path.Combine(m, o.Resources.Name)).Where(Directory.Exists).Select(d => "cgroup " + d));
        left.AddRange(Directory.EnumerateDirectories("/sys/class/net").Select(Path.GetFileName).Where(n => n!.StartsWith(o.Resources.Name, StringComparison.Ordinal)).Select(n => "link " + n));
        return left;
    }

    private async Task DeployAsync(ThawClient client, string work, string name, int concurrency)
    {
        string dir = Path.Combine(work, name);
        Directory.CreateDirectory(dir);
        string example = Path.Combine(AppContext.BaseDirectory, "examples", "hello");
        File.Copy(Path.Combine(example, "f.py"), Path.Combine(dir, "f.py"));
        File.WriteAllText(Path.Combine(dir, "thaw.toml"),
            $"name = \"{name}\"\nmemory = \"{options.FunctionMemory}\"\ntimeout = \"5s\"\nconcurrency = {concurrency}\nkeep_alive = \"1h\"\n");
        var packed = FunctionPacker.Pack(dir);
        await client.DeployAsync(packed.Name, packed.Archive);
    }

    private static async Task<int> ZygotePidAsync(ThawClient client, CancellationToken token)
    {
        var stats = await client.StatsAsync(token);
        return (int)stats["zygotes"]!["root_pid"]!.GetValue<long>();
    }

    private static async Task UntilAsync(Func<bool> condition, TimeSpan timeout, CancellationToken token)
    {
        var sw = Stopwatch.StartNew();
        while (!condition())
        {
            if (sw.Elapsed > timeout)
                throw new TimeoutException($"not within {timeout.TotalSeconds} s");
            await Task.Delay(50, token);
        }
    }

    private static double Percentile(List<double> values, double p)
    {
        if (values.Count == 0)
            return double.NaN;
        var sorted = values.Order().ToArray();
        return sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(p / 100 * sorted.Length) - 1)];
    }
}
