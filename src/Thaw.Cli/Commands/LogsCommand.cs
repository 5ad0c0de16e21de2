using System.CommandLine;
using Thaw.Cli.Client;

namespace Thaw.Cli.Commands;

/// <summary>`thaw logs NAME`: the end of a function's log (what its handler printed, and thawd's notes about it).</summary>
internal static class LogsCommand
{
    private static readonly Argument<string> Name = new("name") { Description = "The function." };
    private static readonly Option<int> Lines = new("--lines", "-n") { Description = "How many lines from the end (1-10000).", DefaultValueFactory = _ => 200 };

    public static Command Create()
    {
        var command = new Command("logs", "Print the end of a function's log: its stdout and stderr line by line with time and version, and thawd's notes (handler errors, timeouts, failed zygote builds). Example: thaw logs hello --lines 50")
        {
            Name, Lines, ClientOptions.Url,
        };
        command.SetAction(async (parse, token) =>
        {
            using var client = ClientOptions.Client(parse);
            return await RunAsync(client, parse.GetValue(Name)!, parse.GetValue(Lines), Console.Out, token);
        });
        return command;
    }

    public static async Task<int> RunAsync(ThawClient client, string name, int lines, TextWriter stdout, CancellationToken token)
    {
        if (lines is < 1 or > 10_000)
            throw new ArgumentException($"--lines must be 1-10000 (was {lines})");
        await stdout.WriteAsync(await client.LogsAsync(name, lines, token));
        await stdout.FlushAsync(token);
        return 0;
    }
}
