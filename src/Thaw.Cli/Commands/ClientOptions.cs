using System.CommandLine;
using Thaw.Cli.Client;

namespace Thaw.Cli.Commands;

/// <summary>What every command that talks to thawd shares: where thawd is.</summary>
internal static class ClientOptions
{
    public static readonly Option<string?> Url = new("--url")
    {
        Description = $"thawd's API: http://host:port or unix:/path/to.sock (default: ${ThawClient.UrlVariable}, else {ThawClient.DefaultUrl}).",
    };

    public static ThawClient Client(ParseResult parse) => ThawClient.FromOptions(parse.GetValue(Url));
}
