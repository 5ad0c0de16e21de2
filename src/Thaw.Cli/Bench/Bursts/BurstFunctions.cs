using System.Text;
using Thaw.Cli.Bench.Python;

namespace Thaw.Cli.Bench.Bursts;

/// <summary>
/// The functions the burst bench calls, made from the examples (examples/image-resize: PIL+numpy,
/// AWS style; examples/hello: imports nothing), and the same handlers as the peer runs them: the
/// same code, the same event, in a fresh python3.
/// </summary>
internal sealed class BurstFunctions
{
    /// <summary>The image-resize example's own defaults, written out: a 640×480 synthetic photo to a 64 px thumbnail.</summary>
    public static readonly byte[] ImageEvent = """{"width":640,"height":480}"""u8.ToArray();

    public static readonly byte[] HelloEvent = """{"name":"bench"}"""u8.ToArray();

    /// <summary>The deployed name of image-resize (thaw.toml's own).</summary>
    public const string ImageResize = "image-resize";

    /// <summary>The deployed name of the sustained case's hello (keep_alive = 0s).</summary>
    public const string ColdHello = "hello-cold";

    public BurstFunctions(string dir, int maxConcurrency, int sustainedClients)
    {
        string examples = Path.Combine(AppContext.BaseDirectory, "examples");
        Image = Copy(Path.Combine(examples, "image-resize"), Path.Combine(dir, "image-resize"), keepAliveZero: true, Math.Max(8, maxConcurrency));
        Hello = Copy(Path.Combine(examples, "hello"), Path.Combine(dir, "hello"), keepAliveZero: false, concurrency: null);
        ColdHelloDir = Copy(Path.Combine(examples, "hello"), Path.Combine(dir, ColdHello), keepAliveZero: true, Math.Max(8, sustainedClients));
        ImagePeer = new BenchFunction("image-resize", Image, ["numpy", "PIL.Image"])
        {
            Module = "lambda_function",
            // An AWS-style handler takes a context: the two members image-resize reads, as a one-line object.
            Call = "lambda_function.lambda_handler({'width': 640, 'height': 480}, type('Context', (), "
                + "{'aws_request_id': 'runc', 'get_remaining_time_in_millis': lambda self: 10000})())",
        };
        HelloPeer = new BenchFunction("hello", Hello, []) { Call = "f.f({'name': 'bench'})" };
    }

    /// <summary>image-resize with keep_alive = 0s and a concurrency of the largest burst: every call starts a sandbox.</summary>
    public string Image { get; }

    /// <summary>hello as it is (default keep-alive): the distinct-hello case deploys it under new names.</summary>
    public string Hello { get; }

    /// <summary>hello with keep_alive = 0s, for the sustained case.</summary>
    public string ColdHelloDir { get; }

    public BenchFunction ImagePeer { get; }

    public BenchFunction HelloPeer { get; }

    /// <summary>
    /// A copy of an example whose top-level keep_alive and concurrency are set here (any the
    /// example has are dropped: TOML refuses a key twice).
    /// </summary>
    private static string Copy(string example, string dir, bool keepAliveZero, int? concurrency)
    {
        Directory.CreateDirectory(dir);
        foreach (var file in Directory.GetFiles(example))
            File.Copy(file, Path.Combine(dir, Path.GetFileName(file)), overwrite: true);
        string manifest = Path.Combine(dir, "thaw.toml");
        var keys = new StringBuilder();
        if (keepAliveZero)
            keys.Append("keep_alive = \"0s\"\n");
        if (concurrency is { } n)
            keys.Append(System.Globalization.CultureInfo.InvariantCulture, $"concurrency = {n}\n");
        bool topLevel = true;
        var kept = File.ReadAllLines(manifest).Where(line =>
        {
            topLevel &= !line.TrimStart().StartsWith('[');
            string key = line.Split('=', 2)[0].Trim();
            return !(topLevel && ((keepAliveZero && key == "keep_alive") || (concurrency is not null && key == "concurrency")));
        });
        // First, not appended: after a [table] header a key would land in that table.
        File.WriteAllText(manifest, keys + string.Join('\n', kept) + "\n");
        return dir;
    }
}
