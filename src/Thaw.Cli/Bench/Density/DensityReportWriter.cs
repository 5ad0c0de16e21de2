using System.Globalization;
using System.Text.Json;
using Spectre.Console;

namespace Thaw.Cli.Bench.Density;

/// <summary>The density bench's tables (memory per idle sandbox, resume, what bounds the count) and its JSON.</summary>
internal static class DensityReportWriter
{
    /// <summary>SEUSS (EuroSys'20): over 50,000 cached function instances per node, against about 3,000 containers.</summary>
    private const int SeussInstances = 50_000;
    private const int Containers = 3_000;

    public static void Print(DensityReport r, IAnsiConsole console)
    {
        console.MarkupLine(string.Create(CultureInfo.InvariantCulture,
            $"[bold]{r.Held:#,0}[/] idle frozen hello sandboxes held ({r.Requested:#,0} asked, {r.Functions} functions); started in {r.FillSeconds:0.0} s, all frozen {r.FreezeSeconds:0.0} s later"));
        if (r.StoppedBy is not null)
            console.MarkupLine($"[yellow]stopped by:[/] {Markup.Escape(r.StoppedBy)}");

        var m = r.Memory;
        var memory = new Table().Title($"memory per idle sandbox (median of {m.Sampled} sampled; node-wide: census difference ÷ sandboxes)").AddColumns("measure", "per sandbox");
        memory.AddRow("USS (private pages of its processes, smaps_rollup)", B(m.UssBytes));
        memory.AddRow("PSS / RSS", $"{B(m.PssBytes)} / {B(m.RssBytes)}");
        memory.AddRow("processes", m.ProcessesPerSandbox.ToString("0.##", CultureInfo.InvariantCulture));
        memory.AddRow("page tables (VmPTE)", B(m.PageTableBytes));
        memory.AddRow("its memory cgroup: usage (user + page cache + kernel)", B(m.CgroupBytes));
        memory.AddRow("its memory cgroup: kernel memory charged", B(m.CgroupKernelBytes));
        memory.AddRow("node: MemAvailable drop", B(m.NodeMemAvailableBytes));
        memory.AddRow("node: unreclaimable slab + percpu (namespaces, cgroups, sockets)", B(m.NodeKernelUnreclaimableBytes));
        memory.AddRow("node: page tables", B(m.NodePageTableBytes));
        memory.AddRow("thawd's RSS", B(m.ThawdRssBytes));
        console.Write(memory);

        var b = r.Budget;
        console.MarkupLine(string.Create(CultureInfo.InvariantCulture,
            $"budget ({b.Accounting}, overcommit {b.Overcommit:0.##}): counted {B(b.CountedBytes)} of {B(b.BudgetBytes)} (limits {B(b.LimitBytes)}, measured {B(b.MeasuredBytes)}, zygotes {B(b.ZygoteBytes)})"));

        var s = r.Resume;
        console.MarkupLine(string.Create(CultureInfo.InvariantCulture,
            $"resume: {s.Count:#,0} frozen sandboxes each taken (thaw) and called once: p50 [bold]{s.P50Ms:0.000} ms[/], p99 {s.P99Ms:0.000} ms (thaw alone p50 {s.ThawP50Ms:0.000} ms); {s.Cold} cold"));

        var bounds = new Table().Title("what bounds the count (max = room left at the start ÷ cost per sandbox)").AddColumns("resource", "per sandbox", "limit", "max sandboxes", "source");
        foreach (var x in r.Bounds.OrderBy(x => x.MaxSandboxes))
        {
            bool bytes = x.Resource.StartsWith("memory (", StringComparison.Ordinal) || x.Resource.StartsWith("memory budget", StringComparison.Ordinal);
            bounds.AddRow(Markup.Escape(x.Resource), bytes ? B((long)x.PerSandbox) : x.PerSandbox.ToString("0.##", CultureInfo.InvariantCulture),
                bytes ? B(x.Limit) : x.Limit.ToString("#,0", CultureInfo.InvariantCulture),
                x.MaxSandboxes == long.MaxValue ? "-" : x.MaxSandboxes.ToString("#,0", CultureInfo.InvariantCulture), Markup.Escape(x.Source));
        }
        console.Write(bounds);
        var first = r.Bounds.MinBy(x => x.MaxSandboxes)!;
        console.MarkupLine(string.Create(CultureInfo.InvariantCulture,
            $"first bound: {Markup.Escape(first.Resource)} at about {first.MaxSandboxes:#,0} sandboxes. SEUSS (EuroSys'20): over {SeussInstances:#,0} cached instances per node vs about {Containers:#,0} containers."));
        foreach (var note in r.Notes)
            console.MarkupLine($"[yellow]note:[/] {Markup.Escape(note)}");
    }

    /// <summary>After thawd stopped: how long its sandboxes took to go, and whether anything of them is left.</summary>
    public static void PrintTeardown(DensityReport r, IAnsiConsole console)
    {
        console.MarkupLine(string.Create(CultureInfo.InvariantCulture, $"thawd and its {r.Held:#,0} sandboxes stopped in {r.StopSeconds:0.0} s"));
        console.MarkupLine(r.LeftBehind.Count == 0 ? "left behind after thawd stopped: nothing" : $"[red]left behind:[/] {Markup.Escape(string.Join(", ", r.LeftBehind))}");
    }

    public static void WriteJson(DensityReport report, string path) =>
        File.WriteAllText(path, JsonSerializer.Serialize(report, new JsonSerializerOptions
        {
            WriteIndented = true,
            PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
            NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals, // NaN when nothing was resumed
            Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping, // "+" and "'" as they are: a file, not HTML
        }));

    private static string B(long bytes) => bytes switch
    {
        >= 1L << 30 => (bytes / (double)(1L << 30)).ToString("0.00", CultureInfo.InvariantCulture) + " GiB",
        >= 1L << 20 => (bytes / (double)(1L << 20)).ToString("0.00", CultureInfo.InvariantCulture) + " MiB",
        _ => (bytes / 1024.0).ToString("0.0", CultureInfo.InvariantCulture) + " KiB",
    };
}
