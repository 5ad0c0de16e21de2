namespace Thaw.Cli.Client;

/// <summary>Nothing answered at the API's address: thawd is not running there (or the socket is not its).</summary>
public sealed class ThawUnreachableException(string url, Exception inner)
    : IOException($"thawd is not reachable at {url} (start it with `thaw serve`)", inner)
{
    public string Url { get; } = url;
}
