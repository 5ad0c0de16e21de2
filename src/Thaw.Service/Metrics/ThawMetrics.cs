using Prometheus;
using Thaw.Linux.Cgroups;
using Thaw.Resources.Pooling;
using Thaw.Service.Scheduling;

namespace Thaw.Service.Metrics;

/// <summary>
/// thawd's Prometheus metrics, in a registry of its own (not prometheus-net's static default: two
/// thawd instances in one process, as in the tests, must not share counters). Calls and phases are
/// recorded as they happen; pool, zygote and cache levels are read from their snapshots at scrape time.
/// </summary>
public sealed class ThawMetrics
{
    private readonly Counter _invocations;
    private readonly Histogram _phases;
    private readonly Counter _timeouts;
    private readonly Counter _rejected;
    private readonly Counter _deploys;

    public ThawMetrics()
    {
        var factory = Prometheus.Metrics.WithCustomRegistry(Registry);
        // No exemplars: by default every observation looks for a trace context to attach (perf: a
        // visible share of a warm call's CPU), and thawd records no traces.
        factory.ExemplarBehavior = new ExemplarBehavior { DefaultExemplarProvider = (_, _) => Exemplar.None };
        _invocations = factory.CreateCounter("thaw_invocations_total", "Function calls, by start (cold: a new sandbox; warm: a cached one) and outcome.",
            new CounterConfiguration { LabelNames = ["function", "start", "outcome"] });
        _phases = factory.CreateHistogram("thaw_phase_seconds", "Time spent in each phase of a call (queue, claim, fork, init, thaw, call, total_cold, total_warm).",
            new HistogramConfiguration { LabelNames = ["phase"], Buckets = Histogram.ExponentialBuckets(0.00005, 2, 20) });
        _timeouts = factory.CreateCounter("thaw_timeouts_total", "Calls that outlived their function's timeout (504; the sandbox was killed).", new CounterConfiguration { LabelNames = ["function"] });
        _rejected = factory.CreateCounter("thaw_rejected_total", "Calls refused: queue_full (429) or memory_budget (503).", new CounterConfiguration { LabelNames = ["reason"] });
        _deploys = factory.CreateCounter("thaw_deploys_total", "Deploys, by outcome (ok or the kind of bad input).", new CounterConfiguration { LabelNames = ["outcome"] });
    }

    public CollectorRegistry Registry { get; } = Prometheus.Metrics.NewCustomRegistry();

    public void Invocation(string function, bool cold, string outcome) => _invocations.WithLabels(function, cold ? "cold" : "warm", outcome).Inc();

    public void Phase(string phase, double ms)
    {
        if (ms >= 0 && !double.IsNaN(ms))
            _phases.WithLabels(phase).Observe(ms / 1000);
    }

    public void Timeout(string function) => _timeouts.WithLabels(function).Inc();

    public void Rejected(string reason) => _rejected.WithLabels(reason).Inc();

    public void Deploy(string outcome) => _deploys.WithLabels(outcome).Inc();

    /// <summary>Levels read at each scrape from the pools, the zygote tree and the handler cache.</summary>
    public void Observe(Func<IEnumerable<PoolStats>> pools, Func<HandlerCacheStats> cache, Func<(int Count, long Bytes, long Evictions)> zygotes)
    {
        var factory = Prometheus.Metrics.WithCustomRegistry(Registry);
        var poolLevel = factory.CreateGauge("thaw_pool_available", "Pre-crafted resources ready in each pool.", new GaugeConfiguration { LabelNames = ["pool"] });
        var poolInUse = factory.CreateGauge("thaw_pool_in_use", "Pooled resources lent to sandboxes.", new GaugeConfiguration { LabelNames = ["pool"] });
        var poolClaims = factory.CreateCounter("thaw_pool_claims_total", "Claims from each pool.", new CounterConfiguration { LabelNames = ["pool"] });
        var poolMisses = factory.CreateCounter("thaw_pool_misses_total", "Claims that found the pool empty and crafted on the request path.", new CounterConfiguration { LabelNames = ["pool"] });
        var zygoteCount = factory.CreateGauge("thaw_zygotes", "Zygotes in the import cache tree, the root included.");
        var zygoteMemory = factory.CreateGauge("thaw_zygote_memory_bytes", "Memory (PSS) of the zygote tree.");
        var zygoteEvictions = factory.CreateCounter("thaw_import_cache_evictions_total", "Zygotes evicted from the import cache.");
        var sandboxes = factory.CreateGauge("thaw_sandboxes", "Function sandboxes by state.", new GaugeConfiguration { LabelNames = ["state"] });
        var queue = factory.CreateGauge("thaw_queue_depth", "Calls waiting for a sandbox, per function.", new GaugeConfiguration { LabelNames = ["function"] });
        var evictions = factory.CreateCounter("thaw_handler_cache_evictions_total", "Idle sandboxes evicted (Greedy-Dual) for the memory budget.");
        var expired = factory.CreateCounter("thaw_handler_cache_expired_total", "Idle sandboxes removed after their keep-alive.");
        var memory = factory.CreateGauge("thaw_memory_bytes", "The node's memory budget; what sandboxes count against it (sandboxes), their limits and measured usage; the zygotes' PSS.", new GaugeConfiguration { LabelNames = ["kind"] });
        var accounting = factory.CreateGauge("thaw_memory_accounting", "1 for how the memory budget counts sandboxes: measured (usage + headroom) or limits.", new GaugeConfiguration { LabelNames = ["mode"] });
        var overcommit = factory.CreateGauge("thaw_memory_overcommit_factor", "Measured accounting's overcommit factor: a sandbox counts usage + (limit - usage) / factor.");
        Registry.AddBeforeCollectCallback(() =>
        {
            foreach (var p in pools())
            {
                poolLevel.WithLabels(p.Name).Set(p.Level);
                poolInUse.WithLabels(p.Name).Set(p.InUse);
                poolClaims.WithLabels(p.Name).IncTo(p.Claims);
                poolMisses.WithLabels(p.Name).IncTo(p.Misses);
            }
            var (count, bytes, zygoteEvicted) = zygotes();
            zygoteCount.Set(count);
            zygoteMemory.Set(bytes);
            zygoteEvictions.IncTo(zygoteEvicted);
            var c = cache();
            sandboxes.WithLabels("busy").Set(c.Functions.Sum(f => f.Busy));
            sandboxes.WithLabels("idle").Set(c.Functions.Sum(f => f.Idle));
            sandboxes.WithLabels("frozen").Set(c.Functions.Sum(f => f.Frozen));
            foreach (var f in c.Functions)
                queue.WithLabels(f.Name).Set(f.Queued);
            evictions.IncTo(c.Evictions);
            expired.IncTo(c.Expired);
            memory.WithLabels("budget").Set(c.BudgetBytes);
            memory.WithLabels("sandboxes").Set(c.ReservedBytes);
            memory.WithLabels("sandboxes_limits").Set(c.LimitBytes);
            memory.WithLabels("sandboxes_measured").Set(c.MeasuredBytes);
            accounting.WithLabels("measured").Set(c.Accounting == MemoryAccounting.Measured ? 1 : 0);
            accounting.WithLabels("limits").Set(c.Accounting == MemoryAccounting.Limits ? 1 : 0);
            overcommit.Set(c.OvercommitFactor);
            memory.WithLabels("zygotes").Set(c.ZygoteBytes);
        });
    }

    /// <summary>
    /// PSI of the cgroup that holds every sandbox and zygote (cgroup v2 only), read at each scrape:
    /// how much of the time they stalled on CPU, memory and I/O. <paramref name="directory"/> returns
    /// null where the kernel keeps no per-cgroup pressure (v1 and hybrid hosts): no series then.
    /// </summary>
    public void ObservePressure(Func<string?> directory)
    {
        var factory = Prometheus.Metrics.WithCustomRegistry(Registry);
        var stalled = factory.CreateCounter("thaw_pressure_stalled_seconds_total", "Time the sandboxes' and zygotes' cgroup stalled on a resource (PSI total): some = at least one task waited, full = all did.",
            new CounterConfiguration { LabelNames = ["resource", "kind"] });
        var share = factory.CreateGauge("thaw_pressure_avg10_ratio", "Share of the last 10 s the sandboxes' and zygotes' cgroup stalled on a resource (PSI avg10 / 100).",
            new GaugeConfiguration { LabelNames = ["resource", "kind"] });
        Registry.AddBeforeCollectCallback(() =>
        {
            if (directory() is not { } dir)
                return;
            foreach (var resource in Pressure.Resources)
            {
                if (Pressure.Read(dir, resource) is not { } p)
                    continue;
                foreach (var (kind, line) in new[] { ("some", (PressureLine?)p.Some), ("full", p.Full) })
                {
                    if (line is not { } l)
                        continue;
                    stalled.WithLabels(resource, kind).IncTo(l.TotalMicroseconds / 1e6);
                    share.WithLabels(resource, kind).Set(l.Avg10 / 100);
                }
            }
        });
    }
}
