using System.CommandLine;
using Spectre.Console;
using Thaw.Cli.Client;
using static Thaw.Cli.Commands.ReplyText;

namespace Thaw.Cli.Commands;

/// <summary>`thaw ls`: the deployed functions and their sandboxes.</summary>
internal static class ListCommand
{
    public static Command Create() => ClientOptions.Showing("ls", "List the deployed functions: version, handler, limits, zygote, sandboxes (busy/idle/frozen) and calls (cold/warm). Example: thaw ls --json | jq '.functions[].name'", RunAsync);

    public static async Task<int> RunAsync(ThawClient client, bool json, IAnsiConsole console, CancellationToken token)
    {
        var reply = await client.ListAsync(token);
        if (json)
            return await PrintJsonAsync(console, reply);
        var functions = Items(reply["functions"]).ToList();
        if (functions.Count == 0)
        {
            console.WriteLine("no functions deployed (deploy one with `thaw deploy DIR`)");
            return 0;
        }
        var table = Table("functions", "name", "version", "runs", "memory", "concurrency", "zygote", "sandboxes busy/idle/frozen", "calls cold/warm");
        foreach (var f in functions)
        {
            var sandboxes = f["sandboxes"];
            var calls = f["invocations"];
            Row(table,
                Text(f["name"]),
                Count(f["version"]),
                Runs(f) ?? "(not loaded: " + Text(f["error"]) + ")",
                f["memory_mb"] is null ? "-" : $"{Count(f["memory_mb"])} MiB",
                Count(f["concurrency"]),
                Text(f["zygote"]),
                sandboxes is null ? "0/0/0" : $"{Count(sandboxes["busy"])}/{Count(sandboxes["idle"])}/{Count(sandboxes["frozen"])}",
                calls is null ? "0/0" : $"{Count(calls["cold"])}/{Count(calls["warm"])}");
        }
        console.Write(table);
        return 0;
    }
}
