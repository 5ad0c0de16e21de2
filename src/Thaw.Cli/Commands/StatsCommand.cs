using System.CommandLine;
using System.Text.Json.Nodes;
using Spectre.Console;
using Thaw.Cli.Client;
using static Thaw.Cli.Commands.ReplyText;

namespace Thaw.Cli.Commands;

/// <summary>`thaw stats`: how the node is doing: pools, zygotes, the handler cache, the memory budget.</summary>
internal static class StatsCommand
{
    public static Command Create() => ClientOptions.Showing("stats", "Show thawd's state: resource pools (levels, hit rates), zygotes (the import cache's nodes and their memory), the handler cache (warm and cold calls, evictions, freezes, rejections) and the memory budget. Example: thaw stats --json | jq .handler_cache", RunAsync);

    public static async Task<int> RunAsync(ThawClient client, bool json, IAnsiConsole console, CancellationToken token)
    {
        var stats = await client.StatsAsync(token);
        if (json)
            return await PrintJsonAsync(console, stats);
        console.Write(Pools(stats["pools"]));
        console.Write(Zygotes(stats["zygotes"]));
        console.Write(HandlerCache(stats["handler_cache"]));
        console.Write(Memory(stats["memory"]));
        return 0;
    }

    private static Table Pools(JsonNode? pools)
    {
        var table = Table("pools", "pool", "available/target", "in use", "claims", "misses", "hit rate");
        foreach (var p in Items(pools))
            Row(table, Text(p["name"]), $"{Count(p["available"])}/{Count(p["target"])}", Count(p["in_use"]), Count(p["claims"]), Count(p["misses"]), Percent(p["hit_rate"]));
        return table;
    }

    private static Table Zygotes(JsonNode? zygotes)
    {
        var table = Table("zygotes", "zygote", "packages", "memory", "live sandboxes", "forks");
        table.Caption = new TableTitle($"{Count(zygotes?["count"])} holding {Bytes(Integer(zygotes?["memory_bytes"]))} · restarts {Count(zygotes?["restarts"])} · evictions {Count(zygotes?["evictions"])}");
        Row(table, $"root (pid {Count(zygotes?["root_pid"])})", "(the runtime alone)", "-", "-", "-");
        foreach (var n in Items(zygotes?["nodes"]))
            Row(table, "import cache", List(n["packages"]), Bytes(Integer(n["memory_bytes"])), Count(n["live_sandboxes"]), Count(n["forks"]));
        return table;
    }

    private static Table HandlerCache(JsonNode? cache)
    {
        var table = Table("handler cache", "warm calls", "cold calls", "hit rate", "evictions", "expired", "freezes", "thaws", "rejected: queue full", "rejected: memory budget");
        Row(table, Count(cache?["warm_calls"]), Count(cache?["cold_calls"]), Percent(cache?["hit_rate"]), Count(cache?["evictions"]), Count(cache?["expired"]),
            Count(cache?["freezes"]), Count(cache?["thaws"]), Count(cache?["rejected_queue_full"]), Count(cache?["rejected_memory_budget"]));
        return table;
    }

    private static Table Memory(JsonNode? memory)
    {
        long budget = Integer(memory?["budget_bytes"]);
        long sandboxes = Integer(memory?["sandboxes_bytes"]);
        long zygotes = Integer(memory?["zygotes_bytes"]);
        string mode = memory?["accounting"]?.GetValue<string>() ?? "limits";
        string counted = mode == "measured" ? $"sandboxes (measured + limit headroom / {memory?["overcommit_factor"]})" : "sandboxes (limits)";
        var table = Table("memory budget", "budget", counted, "their limits", "their measured usage", "zygotes", "free");
        Row(table, Bytes(budget), Bytes(sandboxes), Bytes(Integer(memory?["sandboxes_limits_bytes"])),
            $"{Bytes(Integer(memory?["sandboxes_measured_bytes"]))} ({Count(memory?["sandboxes_measured"])} measured)", Bytes(zygotes), Bytes(Math.Max(0, budget - sandboxes - zygotes)));
        return table;
    }
}
