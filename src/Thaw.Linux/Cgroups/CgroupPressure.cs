using System.Globalization;

namespace Thaw.Linux.Cgroups;

/// <summary>One line of a PSI file: the share of time stalled (percent, averaged over 10, 60, 300 s) and the total stall.</summary>
public readonly record struct PressureLine(double Avg10, double Avg60, double Avg300, long TotalMicroseconds);

/// <summary>
/// A cgroup2 pressure file (cpu.pressure, memory.pressure, io.pressure; Linux 4.20+, cgroup v2 only):
/// "some" is the time at least one task stalled on the resource, "full" the time all non-idle tasks
/// did at once (absent for cpu before Linux 5.13).
/// </summary>
public sealed record Pressure(PressureLine Some, PressureLine? Full)
{
    public static readonly IReadOnlyList<string> Resources = ["cpu", "memory", "io"];

    /// <summary>The pressure of <paramref name="resource"/> in cgroup <paramref name="dir"/>; null when the kernel keeps none (no PSI, psi=0, or the cgroup is gone).</summary>
    public static Pressure? Read(string dir, string resource)
    {
        try
        {
            return Parse(File.ReadAllText(Path.Combine(dir, resource + ".pressure")));
        }
        catch (Exception e) when (e is IOException or NotSupportedException or UnauthorizedAccessException)
        {
            return null; // EOPNOTSUPP when PSI is off, ENOENT without it
        }
    }

    public static Pressure Parse(string text)
    {
        PressureLine? some = null, full = null;
        foreach (var line in text.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var fields = line.Split(' ');
            var values = fields.Skip(1).Select(f => f.Split('=')).ToDictionary(kv => kv[0], kv => kv[1]);
            var parsed = new PressureLine(
                double.Parse(values["avg10"], CultureInfo.InvariantCulture), double.Parse(values["avg60"], CultureInfo.InvariantCulture),
                double.Parse(values["avg300"], CultureInfo.InvariantCulture), long.Parse(values["total"], CultureInfo.InvariantCulture));
            if (fields[0] == "some") some = parsed;
            else if (fields[0] == "full") full = parsed;
        }
        return new Pressure(some ?? throw new FormatException("pressure file without a 'some' line: " + text), full);
    }
}
