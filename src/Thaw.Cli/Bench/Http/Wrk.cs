using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace Thaw.Cli.Bench.Http;

/// <summary>One wrk run: latency percentiles over all requests, throughput, and how many failed.</summary>
internal sealed record WrkResult(double P50Ms, double P99Ms, double Rps, long Requests, long Errors);

/// <summary>wrk counted failed requests; a bench that measured them would be measuring error pages.</summary>
internal sealed class WrkErrorsException(WrkResult result, string message) : Exception(message)
{
    public WrkResult Result { get; } = result;
}

/// <summary>
/// Runs Debian's wrk (C, epoll, one Lua state per thread): POSTs of one JSON body over N
/// keep-alive connections for a fixed time. Its latency histogram is coarse (whole µs) but its
/// client overhead is small enough to load a loopback server at ~100k req/s on two cores.
/// </summary>
internal static class Wrk
{
    private const string ResultTag = "THAW ";

    /// <summary>
    /// Loads <paramref name="url"/> with <paramref name="connections"/> connections for
    /// <paramref name="duration"/> (whole seconds). Throws <see cref="WrkErrorsException"/> when
    /// any request failed: a socket error, a timeout, or a status of 400 or more (wrk does not
    /// count 1xx/3xx, so only point it at endpoints that never redirect).
    /// </summary>
    public static async Task<WrkResult> RunAsync(Uri url, string jsonBody, int connections, TimeSpan duration, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(connections, 1);
        int seconds = (int)Math.Round(duration.TotalSeconds);
        if (seconds < 1 || Math.Abs(duration.TotalSeconds - seconds) > 1e-9)
            throw new ArgumentException($"wrk runs for whole seconds, not {duration.TotalSeconds.ToString(CultureInfo.InvariantCulture)} s", nameof(duration));
        string wrk = PeerCommands.Which("wrk")
            ?? throw new InvalidOperationException("wrk is not installed: apt-get install wrk (./thaw installs it on first use)");

        string script = Path.Combine(Path.GetTempPath(), $"thaw-wrk-{Guid.NewGuid():N}.lua");
        try
        {
            await File.WriteAllTextAsync(script, Script(jsonBody), cancellationToken);
            var psi = new ProcessStartInfo(wrk) { RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (string arg in (string[])["-t", I(Math.Min(connections, 2)), "-c", I(connections), "-d", I(seconds) + "s", "--latency", "-s", script, url.ToString()])
                psi.ArgumentList.Add(arg);
            using var process = Process.Start(psi) ?? throw new InvalidOperationException("cannot start wrk");
            var stdout = process.StandardOutput.ReadToEndAsync(cancellationToken);
            var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            deadline.CancelAfter(duration + TimeSpan.FromSeconds(30));
            try
            {
                await process.WaitForExitAsync(deadline.Token);
            }
            catch (OperationCanceledException)
            {
                process.Kill(entireProcessTree: true);
                cancellationToken.ThrowIfCancellationRequested();
                throw new TimeoutException($"wrk against {url} did not finish within {seconds} s + 30 s");
            }
            if (process.ExitCode != 0)
                throw new InvalidOperationException($"wrk against {url} failed ({process.ExitCode}): {(await stderr).Trim()} {(await stdout).Trim()}");
            return Parse(await stdout, url);
        }
        finally
        {
            File.Delete(script);
        }
    }

    // done() runs once, after all threads stop, with the merged statistics. Latencies are µs.
    private static string Script(string jsonBody) => $$"""
        wrk.method = "POST"
        wrk.body = {{LuaString(jsonBody)}}
        wrk.headers["Content-Type"] = "application/json"

        function done(summary, latency, requests)
          local e = summary.errors
          io.write(string.format("{{ResultTag}}p50_us=%.1f p99_us=%.1f mean_us=%.3f requests=%d duration_us=%d connect=%d read=%d write=%d status=%d timeout=%d\n",
            latency:percentile(50), latency:percentile(99), latency.mean, summary.requests, summary.duration,
            e.connect, e.read, e.write, e.status, e.timeout))
        end
        """;

    // A Lua 5.1 string literal: printable ASCII as is, everything else (quotes, backslashes,
    // control characters, UTF-8 bytes) as three-digit decimal escapes, which LuaJIT reads back byte for byte.
    private static string LuaString(string text)
    {
        var lua = new StringBuilder("\"");
        foreach (byte b in Encoding.UTF8.GetBytes(text))
        {
            if (b is >= 0x20 and < 0x7f && b != '"' && b != '\\')
                lua.Append((char)b);
            else
                lua.Append('\\').Append(b.ToString("000", CultureInfo.InvariantCulture));
        }
        return lua.Append('"').ToString();
    }

    private static WrkResult Parse(string stdout, Uri url)
    {
        string line = stdout.Split('\n').FirstOrDefault(l => l.StartsWith(ResultTag, StringComparison.Ordinal))
            ?? throw new InvalidOperationException($"wrk printed no result line (its Lua done() did not run): {stdout.Trim()}");
        var fields = line[ResultTag.Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries)
            .Select(f => f.Split('=', 2))
            .ToDictionary(kv => kv[0], kv => double.Parse(kv[1], NumberStyles.Float, CultureInfo.InvariantCulture), StringComparer.Ordinal);
        long requests = (long)fields["requests"];
        long connect = (long)fields["connect"], read = (long)fields["read"], write = (long)fields["write"], status = (long)fields["status"], timeout = (long)fields["timeout"];
        long errors = connect + read + write + status + timeout;
        double seconds = fields["duration_us"] / 1e6;
        var result = new WrkResult(fields["p50_us"] / 1000, fields["p99_us"] / 1000, seconds > 0 ? requests / seconds : 0, requests, errors);
        if (errors > 0)
            throw new WrkErrorsException(result,
                $"wrk against {url}: {I(errors)} errors in {I(requests)} requests (status ≥ 400: {I(status)}, connect: {I(connect)}, read: {I(read)}, write: {I(write)}, timeout: {I(timeout)})");
        return requests > 0 ? result : throw new InvalidOperationException($"wrk against {url} completed no requests");
    }

    private static string I(long v) => v.ToString(CultureInfo.InvariantCulture);
}
