using System.CommandLine;
using Thaw.Cli.Client;
using static Thaw.Cli.Commands.ReplyText;

namespace Thaw.Cli.Commands;

/// <summary>`thaw rm NAME`: remove a function; its sandboxes are stopped, its code deleted.</summary>
internal static class RemoveCommand
{
    private static readonly Argument<string> Name = new("name") { Description = "The function." };

    public static Command Create()
    {
        var command = new Command("rm", "Remove a function: calls in flight finish, its sandboxes are stopped, its code and logs go. Example: thaw rm hello")
        {
            Name, ClientOptions.Url,
        };
        command.SetAction(async (parse, token) =>
        {
            using var client = ClientOptions.Client(parse);
            return await RunAsync(client, parse.GetValue(Name)!, Console.Out, token);
        });
        return command;
    }

    public static async Task<int> RunAsync(ThawClient client, string name, TextWriter stdout, CancellationToken token)
    {
        var reply = await client.RemoveAsync(name, token);
        long stopped = Integer(reply["sandboxes_stopped"]);
        await stdout.WriteLineAsync($"removed {Text(reply["name"])} ({stopped} sandbox{(stopped == 1 ? "" : "es")} stopped)");
        return 0;
    }
}
