using System.CommandLine;
using System.Text.Json.Nodes;
using Spectre.Console;
using Thaw.Cli.Client;
using static Thaw.Cli.Commands.ReplyText;

namespace Thaw.Cli.Commands;

/// <summary>`thaw describe NAME`: one function, every field thawd reports about it.</summary>
internal static class DescribeCommand
{
    private static readonly Argument<string> Name = new("name") { Description = "The function." };

    public static Command Create() => ClientOptions.Showing("describe",
        "Show one function: its version, archive digest, handler and limits, packages installed, the zygote it forks from, its sandboxes and calls. Example: thaw describe hello",
        Name, RunAsync);

    public static async Task<int> RunAsync(ThawClient client, string name, bool json, IAnsiConsole console, CancellationToken token)
    {
        var reply = await client.DescribeAsync(name, token);
        if (json)
            return await PrintJsonAsync(console, reply);
        var table = Table(Text(reply["name"]), "field", "value");
        foreach (var (key, value) in reply)
            Row(table, key, value switch
            {
                JsonArray => List(value),
                JsonObject o => string.Join(", ", o.Select(p => $"{p.Key} {Text(p.Value)}")),
                _ => Text(value),
            });
        console.Write(table);
        return 0;
    }
}
