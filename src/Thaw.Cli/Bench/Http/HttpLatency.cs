using System.Diagnostics;
using System.Net.Http.Headers;
using System.Text;

namespace Thaw.Cli.Bench.Http;

/// <summary>
/// One client, one keep-alive connection, requests back to back: every request's latency, exact,
/// where wrk keeps only a histogram. Slower per request than wrk (HttpClient's own cost is in
/// each sample), so it is for percentiles at one client, not for throughput.
/// </summary>
internal static class HttpLatency
{
    /// <summary>
    /// POSTs <paramref name="jsonBody"/> <paramref name="warmup"/> + <paramref name="samples"/> times
    /// in sequence and returns the last <paramref name="samples"/> latencies in ms, request sent →
    /// body read, in order. Any status other than 2xx throws (redirects are not followed).
    /// </summary>
    public static async Task<double[]> SampleAsync(Uri url, string jsonBody, int samples, int warmup = 50, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(samples, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(warmup);
        using var handler = new SocketsHttpHandler
        {
            MaxConnectionsPerServer = 1,
            PooledConnectionIdleTimeout = Timeout.InfiniteTimeSpan,
            PooledConnectionLifetime = Timeout.InfiniteTimeSpan,
            AllowAutoRedirect = false,
            UseProxy = false,
        };
        using var client = new HttpClient(handler);
        byte[] body = Encoding.UTF8.GetBytes(jsonBody);
        var contentType = new MediaTypeHeaderValue("application/json");
        var latencies = new double[samples];
        for (int i = -warmup; i < samples; i++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, url) { Content = new ByteArrayContent(body) { Headers = { ContentType = contentType } } };
            long start = Stopwatch.GetTimestamp();
            using var response = await client.SendAsync(request, HttpCompletionOption.ResponseContentRead, cancellationToken);
            double ms = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
            if (!response.IsSuccessStatusCode)
                throw new HttpRequestException($"POST {url} answered {(int)response.StatusCode} {response.ReasonPhrase}", null, response.StatusCode);
            if (i >= 0)
                latencies[i] = ms;
        }
        return latencies;
    }
}
