using System.Globalization;
using Spectre.Console;

namespace Thaw.Cli.Bench.Bursts;

/// <summary>
/// Runs a case at every concurrency, Thaw's burst and the peer's in turn, each after the idle pause,
/// and prints each row as it is done (a full run takes minutes).
/// </summary>
internal sealed class BurstRuns(BurstBenchOptions options, IAnsiConsole console)
{
    /// <summary>What a burst of N calls to Thaw needs: the call for slot i, and what follows the burst (untimed).</summary>
    public sealed record Prepared(Func<int, CallOutcome> Call, Action? After = null);

    /// <summary>
    /// For each N: one warm-up burst of each system (not recorded), then <see cref="BurstBenchOptions.Bursts"/>
    /// measured ones. <paramref name="prepare"/> runs before each of Thaw's bursts, before the idle pause.
    /// A cancelled <paramref name="token"/> (Ctrl-C) ends the run before the next burst.
    /// </summary>
    public IEnumerable<BurstResult> Bursts(string caseName, Func<int, Prepared> prepare, Func<int, CallOutcome>? peer, CancellationToken token)
    {
        foreach (int n in options.Concurrency)
        {
            var thaw = new List<(CallSample[] Calls, double WallMs)>();
            var runc = new List<(CallSample[] Calls, double WallMs)>();
            console.Status().Start($"{caseName}: bursts of {n}", context =>
            {
                for (int b = -1; b < options.Bursts; b++)
                {
                    token.ThrowIfCancellationRequested();
                    string which = b < 0 ? "warm-up burst" : $"burst {b + 1} of {options.Bursts}";
                    context.Status = $"{caseName}: thaw, {which} of {n} calls";
                    var prepared = prepare(n);
                    Thread.Sleep(options.Idle);
                    var burst = Load.Burst(n, prepared.Call);
                    prepared.After?.Invoke();
                    if (b >= 0)
                        thaw.Add(burst);
                    if (peer is null)
                        continue;
                    token.ThrowIfCancellationRequested();
                    context.Status = $"{caseName}: {BurstSystems.RuncPython}, {which} of {n} calls";
                    Thread.Sleep(options.Idle);
                    var peerBurst = Load.Burst(n, peer);
                    if (b >= 0)
                        runc.Add(peerBurst);
                }
            });
            yield return Done(BurstRows.FromBursts(caseName, BurstSystems.Thaw, n, thaw));
            if (peer is not null)
                yield return Done(BurstRows.FromBursts(caseName, BurstSystems.RuncPython, n, runc));
        }
    }

    /// <summary>The clients in a closed loop for the duration: Thaw, then the peer, each after the idle pause.</summary>
    public IEnumerable<BurstResult> Sustained(string caseName, Func<int, CallOutcome> call, Func<int, CallOutcome>? peer, CancellationToken token)
    {
        foreach (var (system, run) in new[] { (BurstSystems.Thaw, call), (BurstSystems.RuncPython, peer) })
        {
            if (run is null)
                continue;
            token.ThrowIfCancellationRequested();
            var (calls, seconds) = console.Status().Start(
                $"{caseName}: {system}, {options.SustainedClients} clients in a closed loop for {options.SustainedDuration.TotalSeconds:0} s", _ =>
                {
                    Thread.Sleep(options.Idle);
                    return Load.ClosedLoop(options.SustainedClients, options.SustainedDuration, run);
                });
            yield return Done(BurstRows.FromClosedLoop(caseName, system, options.SustainedClients, calls, seconds));
        }
    }

    private BurstResult Done(BurstResult row)
    {
        string rate = row.StartsPerSecond is { } s ? $", {s:0.0} cold starts/s" : "";
        string wall = row.WallMs is { } w ? $", wall {w:0.0} ms" : "";
        console.MarkupLine(Markup.Escape(string.Create(CultureInfo.InvariantCulture,
            $"{row.Case} {row.System} {(row.DurationSeconds is null ? "N" : "clients")}={row.Concurrency}: p50 {Ms(row.P50Ms)}, p99 {Ms(row.P99Ms)}{wall}{rate}; {row.Calls} calls, {row.Non200} not 200, {row.NotCold} not cold")));
        foreach (var error in row.Errors)
            console.MarkupLine($"[yellow]  {Markup.Escape(error)}[/]");
        return row;
    }

    private static string Ms(double? v) => v is { } x ? x.ToString("0.00", CultureInfo.InvariantCulture) + " ms" : "-";
}
