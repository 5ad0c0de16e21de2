using System.Diagnostics;
using System.Globalization;
using Spectre.Console;
using Thaw.Linux.Cgroups;
using Thaw.Resources;
using Thaw.Resources.Cgroups;
using Thaw.Resources.Pooling;

namespace Thaw.Cli.Bench;

/// <summary>One row of `thaw bench cgroup2`: a case, the way it was done, and what it cost or left.</summary>
internal sealed record Cgroup2Result(string Case, string Way, double P50Ms, double P99Ms, int Samples, string Note);

/// <summary>
/// `thaw bench cgroup2`: cgroup v2's own tools beside the portable way Thaw would otherwise take, in
/// one run on one kernel (relative numbers are what it is for; the cgroup v2 VM is emulated):
/// emptying a cgroup with cgroup.kill vs SIGKILL to every pid; waiting for a freeze on cgroup.events
/// vs re-reading it every millisecond; the cost of the cgroup.procs write on the start path (what
/// clone3's CLONE_INTO_CGROUP would save) beside a process start; what an OOM leaves with and
/// without memory.oom.group; how fast an allocation dies with memory.high below memory.max.
/// </summary>
internal sealed class Cgroup2Bench(int samples, IAnsiConsole console)
{
    private readonly ThawNaming _naming = new("thawk", "/var/lib/thaw/bench-cgroup2");
    private readonly List<Cgroup2Result> _results = [];
    private string _parent = "";
    private int _next;

    public IReadOnlyList<Cgroup2Result> Run()
    {
        var hierarchy = CgroupHierarchy.Detect();
        if (hierarchy.UnifiedMount is not { } mount || CgroupLayout.RequiredControllers.Any(c => hierarchy.Find(c)?.Version != 2))
            throw new InvalidOperationException($"thaw bench cgroup2 needs a pure cgroup2 host; this one has {hierarchy.Describe()}");
        CgroupRecovery.Sweep(_naming, hierarchy);
        _parent = Path.Combine(mount, _naming.CgroupName);
        Enable(mount);
        CgroupFs.CreateDirectory(_parent);
        Enable(_parent);
        try
        {
            foreach (int n in (int[])[1, 32])
                Kill(n);
            Freeze();
            Join();
            Oom();
            MemoryHigh();
        }
        finally
        {
            CgroupRecovery.Sweep(_naming, hierarchy);
        }
        return _results;
    }

    private void Kill(int n)
    {
        foreach (bool atomic in (bool[])[true, false])
        {
            var times = new List<double>();
            for (int i = 0; i < samples; i++)
            {
                string dir = NewCgroup();
                Start(dir, $"for i in $(seq {n - 1}); do sleep 1000 & done; exec sleep 1000", n);
                long t0 = Stopwatch.GetTimestamp();
                bool empty = atomic ? CgroupFs.KillAll(dir, TimeSpan.FromSeconds(10)) : KillEveryPid(dir, TimeSpan.FromSeconds(10));
                times.Add(Stopwatch.GetElapsedTime(t0).TotalMilliseconds);
                if (!empty)
                    throw new InvalidOperationException($"{dir}: not empty 10 s after the kill");
                CgroupFs.RemoveDirectory(dir, TimeSpan.FromSeconds(5));
            }
            Add($"empty a cgroup of {n}", atomic ? "cgroup.kill" : "SIGKILL per pid", times, "until cgroup.procs is empty");
        }
    }

    /// <summary>The fallback CgroupFs.KillAll takes without cgroup.kill: signal every listed pid until none is left.</summary>
    private static bool KillEveryPid(string dir, TimeSpan timeout)
    {
        var sw = Stopwatch.StartNew();
        while (true)
        {
            CgroupFs.KillProcs(dir);
            if (CgroupFs.ReadProcs(dir).Count == 0)
                return true;
            if (sw.Elapsed > timeout)
                return false;
            Thread.Sleep(1);
        }
    }

    private void Freeze()
    {
        string dir = NewCgroup();
        Start(dir, "sleep 1000 & sleep 1000 & exec sleep 1000", 3);
        var freeze = new Dictionary<FreezeWait, List<double>> { [FreezeWait.Events] = [], [FreezeWait.Poll] = [] };
        var thaw = new Dictionary<FreezeWait, List<double>> { [FreezeWait.Events] = [], [FreezeWait.Poll] = [] };
        for (int i = 0; i < samples; i++)
            foreach (var wait in (FreezeWait[])[FreezeWait.Events, FreezeWait.Poll])
            {
                long t0 = Stopwatch.GetTimestamp();
                CgroupFreezer.SetFrozen(dir, 2, true, TimeSpan.FromSeconds(5), wait);
                freeze[wait].Add(Stopwatch.GetElapsedTime(t0).TotalMilliseconds);
                t0 = Stopwatch.GetTimestamp();
                CgroupFreezer.SetFrozen(dir, 2, false, TimeSpan.FromSeconds(5), wait);
                thaw[wait].Add(Stopwatch.GetElapsedTime(t0).TotalMilliseconds);
            }
        foreach (var wait in freeze.Keys)
        {
            string way = wait == FreezeWait.Events ? "poll(2) on cgroup.events" : "re-read every 1 ms";
            Add("freeze 3 processes", way, freeze[wait], "write cgroup.freeze 1 until frozen 1");
            Add("thaw 3 processes", way, thaw[wait], "write cgroup.freeze 0 until frozen 0");
        }
        CgroupFs.KillAll(dir, TimeSpan.FromSeconds(5));
    }

    private void Join()
    {
        string a = NewCgroup(), b = NewCgroup();
        var process = Start(a, "exec sleep 1000", 1);
        var backToBack = new List<double>();
        var afterIdle = new List<double>();
        for (int i = 0; i < samples * 4; i++)
        {
            if (i % 4 == 0)
                Thread.Sleep(50); // idle, as before a cold start
            long t0 = Stopwatch.GetTimestamp();
            CgroupFs.Join(i % 2 == 0 ? b : a, process.Id);
            (i % 4 == 0 ? afterIdle : backToBack).Add(Stopwatch.GetElapsedTime(t0).TotalMilliseconds);
        }
        string dynmods = MountTableHasDynmods() ? "favordynmods on" : "favordynmods off";
        Add("cgroup.procs write (start path)", "back to back", backToBack, dynmods);
        Add("cgroup.procs write (start path)", "after 50 ms idle", afterIdle, dynmods);
        var starts = new List<double>();
        for (int i = 0; i < samples; i++)
        {
            long t0 = Stopwatch.GetTimestamp();
            using var p = Process.Start("/bin/true")!;
            p.WaitForExit();
            starts.Add(Stopwatch.GetElapsedTime(t0).TotalMilliseconds);
        }
        Add("yardstick: Process.Start(/bin/true) to exit", "", starts, "");
        CgroupFs.KillAll(a, TimeSpan.FromSeconds(5));
    }

    private void Oom()
    {
        foreach (bool group in (bool[])[true, false])
        {
            var times = new List<double>();
            int survivors = 0;
            for (int i = 0; i < Math.Max(3, samples / 10); i++)
            {
                string dir = NewCgroup();
                CgroupFs.Write(Path.Combine(dir, "memory.max"), (48L << 20).ToString(CultureInfo.InvariantCulture));
                CgroupFs.Write(Path.Combine(dir, "memory.swap.max"), "0");
                if (group)
                    CgroupFs.Write(Path.Combine(dir, "memory.oom.group"), "1");
                // A sandbox's shape: a small process beside the one that grows past the limit.
                long t0 = Stopwatch.GetTimestamp();
                Start(dir, "sleep 1000 & exec python3 -c 'b = b\"x\" * (200 << 20)'", 1);
                while (CgroupFs.ReadKey(Path.Combine(dir, "memory.events"), "oom_kill") == "0")
                    Thread.Sleep(1);
                Thread.Sleep(200); // what is left is left
                times.Add(Stopwatch.GetElapsedTime(t0).TotalMilliseconds);
                survivors += CgroupFs.ReadProcs(dir).Count;
                CgroupFs.KillAll(dir, TimeSpan.FromSeconds(5));
                CgroupFs.RemoveDirectory(dir, TimeSpan.FromSeconds(5));
            }
            Add("OOM in a cgroup of 2 (sleep + python3 growing past 48 MiB)", group ? "memory.oom.group 1" : "memory.oom.group 0", times,
                $"{survivors} of {times.Count} small processes survived the OOM kill");
        }
    }

    private void MemoryHigh()
    {
        const long max = 64L << 20;
        foreach (double? ratio in (double?[])[null, 0.9, 0.75])
        {
            var times = new List<double>();
            long highEvents = 0;
            for (int i = 0; i < Math.Max(3, samples / 10); i++)
            {
                string dir = NewCgroup();
                CgroupFs.Write(Path.Combine(dir, "memory.max"), max.ToString(CultureInfo.InvariantCulture));
                CgroupFs.Write(Path.Combine(dir, "memory.swap.max"), "0");
                if (ratio is { } r)
                    CgroupFs.Write(Path.Combine(dir, "memory.high"), ((long)(max * r)).ToString(CultureInfo.InvariantCulture));
                // Grows 1 MiB at a time to 48 MiB (under max, over high), then drops it: how much slower does high make it?
                long t0 = Stopwatch.GetTimestamp();
                var p = Start(dir, "exec python3 -c 'l = [b\"x\" * (1 << 20) for _ in range(56)]'", 1);
                p.WaitForExit();
                times.Add(Stopwatch.GetElapsedTime(t0).TotalMilliseconds);
                highEvents += long.Parse(CgroupFs.ReadKey(Path.Combine(dir, "memory.events"), "high") ?? "0", CultureInfo.InvariantCulture);
                CgroupFs.RemoveDirectory(dir, TimeSpan.FromSeconds(5));
            }
            Add("python3 grows to 56 MiB under memory.max 64 MiB", ratio is { } x ? $"memory.high {x:0.##} x max" : "no memory.high", times, $"{highEvents} memory.high events");
        }
    }

    /// <summary>Starts a shell inside <paramref name="dir"/> (it joins before running <paramref name="script"/>) and waits until the cgroup holds <paramref name="processes"/>.</summary>
    private static Process Start(string dir, string script, int processes)
    {
        var start = new ProcessStartInfo("/bin/sh") { ArgumentList = { "-c", "echo $$ > \"$0/cgroup.procs\" && { " + script + "; }", dir } };
        var process = Process.Start(start)!;
        var sw = Stopwatch.StartNew();
        while (CgroupFs.ReadProcs(dir).Count < processes && !process.HasExited)
        {
            if (sw.Elapsed > TimeSpan.FromSeconds(30))
                throw new InvalidOperationException($"{dir}: {processes} processes not there after 30 s");
            Thread.Sleep(1);
        }
        return process;
    }

    private string NewCgroup()
    {
        string dir = Path.Combine(_parent, "b-" + (++_next).ToString(CultureInfo.InvariantCulture));
        CgroupFs.CreateDirectory(dir);
        return dir;
    }

    private static void Enable(string dir)
    {
        string file = Path.Combine(dir, "cgroup.subtree_control");
        var on = CgroupFs.Read(file).Split(' ');
        foreach (var c in CgroupLayout.RequiredControllers.Except(on))
            CgroupFs.Write(file, "+" + c);
    }

    private static bool MountTableHasDynmods() =>
        Thaw.Linux.Mounts.MountTable.Read().Entries.FirstOrDefault(m => m.FsType == "cgroup2")?.SuperOptionList.Contains(CgroupDynmods.Option) == true;

    private void Add(string @case, string way, List<double> times, string note)
    {
        times.Sort();
        var r = new Cgroup2Result(@case, way, Math.Round(LatencyReservoir.Percentile(times, 0.5), 3), Math.Round(LatencyReservoir.Percentile(times, 0.99), 3), times.Count, note);
        _results.Add(r);
        console.MarkupLine(Markup.Escape($"{r.Case} | {r.Way} | p50 {r.P50Ms} ms | p99 {r.P99Ms} ms | n={r.Samples} | {r.Note}"));
    }
}
