using System.Globalization;
using System.Net.Http.Headers;
using Thaw.Cli.Client;

namespace Thaw.Cli.Bench.Bursts;

/// <summary>
/// Synchronous invokes over loopback HTTP/1.1 keep-alive, one per calling thread (a burst's threads
/// each block in their own call, so none waits on the thread pool's ramp-up). Every reply counts,
/// whatever its status: a refusal under load is a figure of the bench, not an error of it.
/// </summary>
internal sealed class InvokeClient : IDisposable
{
    private static readonly MediaTypeHeaderValue Json = new("application/json");
    private readonly HttpClient _http;

    public InvokeClient(Uri thawd)
    {
        var handler = new SocketsHttpHandler
        {
            // A connection per concurrent call, kept between bursts: a burst measures starts, not TCP handshakes.
            MaxConnectionsPerServer = int.MaxValue,
            PooledConnectionIdleTimeout = Timeout.InfiniteTimeSpan,
            PooledConnectionLifetime = Timeout.InfiniteTimeSpan,
            AllowAutoRedirect = false,
            UseProxy = false,
        };
        _http = new HttpClient(handler) { BaseAddress = thawd, Timeout = TimeSpan.FromSeconds(120) };
    }

    /// <summary>POSTs <paramref name="body"/> to the function's invoke route; never throws for what thawd answered.</summary>
    public CallOutcome Invoke(string function, byte[] body)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, $"v1/functions/{Uri.EscapeDataString(function)}/invoke")
        {
            Content = new ByteArrayContent(body) { Headers = { ContentType = Json } },
        };
        try
        {
            using var reply = _http.Send(request, HttpCompletionOption.ResponseContentRead);
            bool cold = reply.Headers.TryGetValues("X-Thaw-Start", out var start) && start.Contains("cold");
            double? handler = reply.Headers.TryGetValues("Server-Timing", out var timing)
                && ThawClient.ParseServerTiming(string.Join(", ", timing)).TryGetValue("handler", out double ms) ? ms : null;
            string? error = reply.IsSuccessStatusCode ? null : ErrorOf(reply);
            return new CallOutcome((int)reply.StatusCode, cold, handler, error);
        }
        catch (Exception e) when (e is HttpRequestException or IOException or TaskCanceledException)
        {
            return CallOutcome.Failed(e.Message);
        }
    }

    private static string ErrorOf(HttpResponseMessage reply)
    {
        string body = reply.Content.ReadAsStringAsync().GetAwaiter().GetResult();
        return ((int)reply.StatusCode).ToString(CultureInfo.InvariantCulture) + " " + (body.Length > 200 ? body[..200] + "…" : body);
    }

    public void Dispose() => _http.Dispose();
}
