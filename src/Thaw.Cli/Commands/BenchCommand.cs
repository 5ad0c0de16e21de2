using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Spectre.Console;
using Thaw.Cli.Bench;

namespace Thaw.Cli.Commands;

internal static class BenchCommand
{
    public static Command Create()
    {
        var command = new Command("bench", "Benchmarks that compare Thaw with a real peer in the same run and print ratios.");
        command.Subcommands.Add(Pools());
        return command;
    }

    private static Command Pools()
    {
        var concurrency = new Option<string>("--concurrency", "-c")
        {
            Description = "Burst sizes to measure, comma-separated.",
            DefaultValueFactory = _ => "1,10,20,50",
        };
        var json = new Option<FileInfo?>("--json") { Description = "Also write the results as JSON to this file." };
        var samples = new Option<int>("--samples")
        {
            Description = "Claims measured per resource and burst size for the pool path (fewer for the slower paths).",
            DefaultValueFactory = _ => 400,
        };
        var refillRate = new Option<int>("--refill-rate") { Description = "Steady claims per second for the refill check.", DefaultValueFactory = _ => 200 };
        var only = new Option<string?>("--resources") { Description = "Only these resources, comma-separated: netns-none, netns-bridge, cgroup, root." };
        var stateDir = new Option<string>("--state-dir") { Description = "Where the bench pins its namespaces and roots.", DefaultValueFactory = _ => "/var/lib/thaw" };

        var command = new Command("pools", "Claim latency from warm pools vs fresh creation (and vs `ip` for network namespaces), per burst size; pooled kernel memory; refill rate.")
        {
            concurrency, json, samples, refillRate, only, stateDir,
        };
        command.SetAction(parse =>
        {
            var levels = ParseConcurrency(parse.GetValue(concurrency)!);
            var filter = parse.GetValue(only)?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToHashSet();
            var options = new PoolsBenchOptions(levels, filter, parse.GetValue(stateDir)!, parse.GetValue(samples), parse.GetValue(refillRate), 2.0, 50);
            var report = new PoolsBench(options, AnsiConsole.Console).Run();
            PoolsReport.Print(report, AnsiConsole.Console);
            if (parse.GetValue(json) is { } file)
            {
                File.WriteAllText(file.FullName, JsonSerializer.Serialize(report, new JsonSerializerOptions { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower }));
                AnsiConsole.MarkupLine($"JSON written to [blue]{Markup.Escape(file.FullName)}[/]");
            }
            return 0;
        });
        return command;
    }

    internal static IReadOnlyList<int> ParseConcurrency(string text)
    {
        var levels = new List<int>();
        foreach (var part in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (!int.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out int n) || n < 1 || n > 1000)
                throw new ArgumentException($"--concurrency: '{part}' is not a whole number from 1 to 1000");
            levels.Add(n);
        }
        return levels.Count > 0 ? levels : throw new ArgumentException("--concurrency: give at least one burst size, e.g. 1,10,20,50");
    }
}
