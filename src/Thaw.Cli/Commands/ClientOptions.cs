using System.CommandLine;
using Spectre.Console;
using Thaw.Cli.Client;

namespace Thaw.Cli.Commands;

/// <summary>What the commands that talk to thawd share: where thawd is, and a raw-JSON switch.</summary>
internal static class ClientOptions
{
    public static readonly Option<string?> Url = new("--url")
    {
        Description = $"thawd's API: http://host:port or unix:/path/to.sock (default: ${ThawClient.UrlVariable}, else {ThawClient.DefaultUrl}).",
    };

    /// <summary>For the commands that show a reply (ls, describe, stats): the JSON as thawd sent it, for jq.</summary>
    public static readonly Option<bool> Json = new("--json") { Description = "Print thawd's JSON reply as it is." };

    public static ThawClient Client(ParseResult parse) => ThawClient.FromOptions(parse.GetValue(Url));

    /// <summary>A command that shows one reply of thawd's (as a table, or with --json as it is): `ls`, `stats`.</summary>
    public static Command Showing(string name, string description, Func<ThawClient, bool, IAnsiConsole, CancellationToken, Task<int>> run) =>
        Showing(name, description, null, (client, _, json, console, token) => run(client, json, console, token));

    /// <summary>The same for a reply about one thing named by <paramref name="argument"/>: `describe NAME`.</summary>
    public static Command Showing(string name, string description, Argument<string>? argument,
        Func<ThawClient, string, bool, IAnsiConsole, CancellationToken, Task<int>> run)
    {
        var command = new Command(name, description) { Json, Url };
        if (argument is not null)
            command.Arguments.Add(argument);
        command.SetAction(async (parse, token) =>
        {
            using var client = Client(parse);
            return await run(client, argument is null ? "" : parse.GetValue(argument)!, parse.GetValue(Json), AnsiConsole.Console, token);
        });
        return command;
    }
}
