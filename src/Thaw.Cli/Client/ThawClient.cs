using System.Globalization;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Thaw.Cli.Client;

/// <summary>
/// thawd's HTTP API from the client side: one method per route, replies as JSON nodes (the CLI
/// prints them; nothing binds them to types). The address is http://host:port or unix:/path.sock.
/// A refusal is a <see cref="ThawApiException"/> carrying the server's message and code; nobody
/// listening is a <see cref="ThawUnreachableException"/>.
/// </summary>
public sealed class ThawClient : IDisposable
{
    public const string DefaultUrl = "http://127.0.0.1:8080";

    /// <summary>The environment variable that points every command at a thawd when --url is not given.</summary>
    public const string UrlVariable = "THAW_URL";

    private const string UnixScheme = "unix:";

    private readonly HttpClient _http;

    /// <param name="url">http://host:port (http:// may be left out) or unix:/path/to.sock.</param>
    /// <param name="timeout">How long one request may take; a deploy installs packages and starts a sandbox, so minutes.</param>
    public ThawClient(string url, TimeSpan? timeout = null)
    {
        Url = url;
        Timeout = timeout ?? TimeSpan.FromMinutes(10);
        // thawd is local (its API has no authentication): an http_proxy in the environment must not reroute it.
        var handler = new SocketsHttpHandler { UseProxy = false };
        Uri baseAddress;
        if (url.StartsWith(UnixScheme, StringComparison.Ordinal))
        {
            // unix:/run/thaw.sock as curl and Docker write it (unix:///run/thaw.sock works too).
            string path = url[UnixScheme.Length..];
            if (path.StartsWith("//", StringComparison.Ordinal))
                path = path[2..];
            if (path.Length == 0)
                throw new ArgumentException($"'{url}' names no socket: write unix:/path/to/thawd.sock");
            var endpoint = new UnixDomainSocketEndPoint(Path.GetFullPath(path));
            handler.ConnectCallback = async (_, token) =>
            {
                var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                try
                {
                    await socket.ConnectAsync(endpoint, token);
                    return new NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            };
            baseAddress = new Uri("http://localhost/");
        }
        else
        {
            string text = url.Contains("://", StringComparison.Ordinal) ? url : "http://" + url;
            if (!Uri.TryCreate(text, UriKind.Absolute, out var parsed) || parsed.Scheme is not ("http" or "https"))
                throw new ArgumentException($"'{url}' is not a thawd address: write http://host:port or unix:/path/to/thawd.sock");
            baseAddress = parsed.AbsolutePath.EndsWith('/') ? parsed : new Uri(parsed + "/");
        }
        _http = new HttpClient(handler) { BaseAddress = baseAddress, Timeout = System.Threading.Timeout.InfiniteTimeSpan };
    }

    /// <summary>The address as given (what error messages show).</summary>
    public string Url { get; }

    public TimeSpan Timeout { get; }

    /// <summary>--url if given, else $THAW_URL, else the default loopback port.</summary>
    public static string ResolveUrl(string? url, string? environment) =>
        !string.IsNullOrWhiteSpace(url) ? url.Trim() : !string.IsNullOrWhiteSpace(environment) ? environment.Trim() : DefaultUrl;

    public static ThawClient FromOptions(string? url) => new(ResolveUrl(url, Environment.GetEnvironmentVariable(UrlVariable)));

    /// <summary>
    /// PUT /v1/functions/{name}: the reply says version, created, installed packages, zygote and timings.
    /// <paramref name="uploaded"/> is called once the archive is sent: what remains is thawd's (installing packages, validating).
    /// </summary>
    public async Task<JsonObject> DeployAsync(string name, byte[] archive, Action? uploaded = null, CancellationToken token = default)
    {
        var content = new UploadContent(archive, uploaded);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/gzip");
        return await JsonAsync(new HttpRequestMessage(HttpMethod.Put, Function(name)) { Content = content }, token);
    }

    /// <summary>
    /// POST /v1/functions/{name}/invoke. A handler that raised is a reply like any other (status 500,
    /// <see cref="Invocation.FunctionError"/> set); every other refusal throws.
    /// </summary>
    public async Task<Invocation> InvokeAsync(string name, ReadOnlyMemory<byte> json, CancellationToken token = default)
    {
        var content = new ReadOnlyMemoryContent(json);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        using var reply = await SendAsync(new HttpRequestMessage(HttpMethod.Post, Function(name) + "/invoke") { Content = content }, token);
        byte[] body = await reply.Content.ReadAsByteArrayAsync(token);
        string? functionError = Header(reply, "X-Thaw-Function-Error");
        int status = (int)reply.StatusCode;
        if (status != 200 && functionError is null)
            throw Error(status, reply.ReasonPhrase, body);
        return new Invocation(
            status,
            body,
            Header(reply, "X-Thaw-Start"),
            int.TryParse(Header(reply, "X-Thaw-Version"), NumberStyles.None, CultureInfo.InvariantCulture, out int version) ? version : null,
            Header(reply, "X-Thaw-Sandbox"),
            functionError,
            ParseServerTiming(Header(reply, "Server-Timing")));
    }

    /// <summary>GET /v1/functions: {"functions": [...]}.</summary>
    public Task<JsonObject> ListAsync(CancellationToken token = default) => GetJsonAsync("v1/functions", token);

    public Task<JsonObject> DescribeAsync(string name, CancellationToken token = default) => GetJsonAsync(Function(name), token);

    /// <summary>DELETE /v1/functions/{name}: {"name", "removed", "sandboxes_stopped"}.</summary>
    public Task<JsonObject> RemoveAsync(string name, CancellationToken token = default) =>
        JsonAsync(new HttpRequestMessage(HttpMethod.Delete, Function(name)), token);

    /// <summary>The last <paramref name="lines"/> lines of the function's log (its output and thawd's notes about it).</summary>
    public async Task<string> LogsAsync(string name, int lines, CancellationToken token = default)
    {
        using var reply = await SendAsync(new HttpRequestMessage(HttpMethod.Get, $"{Function(name)}/logs?lines={lines.ToString(CultureInfo.InvariantCulture)}"), token);
        byte[] body = await reply.Content.ReadAsByteArrayAsync(token);
        if (!reply.IsSuccessStatusCode)
            throw Error((int)reply.StatusCode, reply.ReasonPhrase, body);
        return System.Text.Encoding.UTF8.GetString(body);
    }

    public Task<JsonObject> StatsAsync(CancellationToken token = default) => GetJsonAsync("v1/stats", token);

    public Task<JsonObject> HealthAsync(CancellationToken token = default) => GetJsonAsync("healthz", token);

    /// <summary>"claim;dur=0.05, fork;dur=1.2" → claim: 0.05, fork: 1.2 (in the header's order; phases without a duration are left out).</summary>
    public static IReadOnlyDictionary<string, double> ParseServerTiming(string? header)
    {
        var phases = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var metric in (header ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var parts = metric.Split(';', StringSplitOptions.TrimEntries);
            foreach (var parameter in parts.Skip(1))
                if (parameter.StartsWith("dur=", StringComparison.OrdinalIgnoreCase)
                    && double.TryParse(parameter.AsSpan(4), NumberStyles.Float, CultureInfo.InvariantCulture, out double ms))
                    phases[parts[0]] = ms;
        }
        return phases;
    }

    private static string Function(string name) => "v1/functions/" + Uri.EscapeDataString(name);

    private static string? Header(HttpResponseMessage reply, string name) =>
        reply.Headers.TryGetValues(name, out var values) ? string.Join(", ", values) : null;

    private Task<JsonObject> GetJsonAsync(string path, CancellationToken token) => JsonAsync(new HttpRequestMessage(HttpMethod.Get, path), token);

    private async Task<JsonObject> JsonAsync(HttpRequestMessage request, CancellationToken token)
    {
        using var reply = await SendAsync(request, token);
        byte[] body = await reply.Content.ReadAsByteArrayAsync(token);
        if (!reply.IsSuccessStatusCode)
            throw Error((int)reply.StatusCode, reply.ReasonPhrase, body);
        try
        {
            return JsonNode.Parse(body) as JsonObject ?? throw new JsonException("not an object");
        }
        catch (JsonException)
        {
            throw new IOException($"what answered at {Url} is not thawd (its reply to {request.Method} /{request.RequestUri} is not the API's JSON)");
        }
    }

    /// <summary>Sends with the client's timeout; the ways a request can fail become messages about thawd.</summary>
    private async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken token)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(token);
        timeout.CancelAfter(Timeout);
        try
        {
            using (request)
                return await _http.SendAsync(request, timeout.Token);
        }
        catch (HttpRequestException e) when (e.HttpRequestError is HttpRequestError.ConnectionError or HttpRequestError.NameResolutionError)
        {
            throw new ThawUnreachableException(Url, e);
        }
        catch (HttpRequestException e)
        {
            throw new IOException($"the request to thawd at {Url} failed: {e.Message}", e);
        }
        catch (OperationCanceledException) when (!token.IsCancellationRequested)
        {
            throw new TimeoutException($"thawd at {Url} did not answer within {Timeout.TotalSeconds.ToString(CultureInfo.InvariantCulture)} s");
        }
    }

    /// <summary>The API's error body ({"error", "code", "traceback"?}) as an exception; a body that is not one still says what came back.</summary>
    internal static ThawApiException Error(int status, string? reason, byte[] body)
    {
        try
        {
            if (JsonNode.Parse(body) is JsonObject error && Text(error["error"]) is { } message)
                return new ThawApiException(status, Text(error["code"]) ?? "", message, Text(error["traceback"]) is { Length: > 0 } traceback ? traceback : null);
        }
        catch (JsonException)
        {
        }
        string text = System.Text.Encoding.UTF8.GetString(body).Trim();
        if (text.Length > 200)
            text = text[..200] + "…";
        return new ThawApiException(status, "", $"thawd answered {status} {reason}{(text.Length > 0 ? ": " + text : "")}");
    }

    internal static string? Text(JsonNode? node) => node is JsonValue value && value.TryGetValue<string>(out var text) ? text : null;

    public void Dispose() => _http.Dispose();

    /// <summary>A byte array body that says when it has been written out.</summary>
    private sealed class UploadContent(byte[] data, Action? sent) : HttpContent
    {
        protected override async Task SerializeToStreamAsync(Stream stream, System.Net.TransportContext? context) =>
            await SerializeToStreamAsync(stream, context, CancellationToken.None);

        protected override async Task SerializeToStreamAsync(Stream stream, System.Net.TransportContext? context, CancellationToken cancellationToken)
        {
            await stream.WriteAsync(data, cancellationToken);
            sent?.Invoke();
        }

        protected override bool TryComputeLength(out long length)
        {
            length = data.Length;
            return true;
        }
    }
}
