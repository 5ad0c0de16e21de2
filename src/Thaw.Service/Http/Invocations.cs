using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Thaw.Service.Scheduling;

namespace Thaw.Service.Http;

/// <summary>
/// POST /v1/functions/{name}/invoke and /run/{name}: the event (one JSON value; empty is null) in,
/// the handler's result out, with X-Thaw-Start (cold or warm), X-Thaw-Version, X-Thaw-Sandbox, X-Thaw-Zygote and a
/// Server-Timing header of the call's phases. A handler that raised is a 500 with
/// X-Thaw-Function-Error and its type, message and traceback. Kept lean: it is the warm path.
/// </summary>
internal static class Invocations
{
    private static readonly byte[] Null = "null"u8.ToArray();

    public static async Task InvokeAsync(HttpContext http, Thawd thawd, string name)
    {
        long limit = thawd.Options.MaxEventBytes;
        if (http.Request.ContentLength > limit)
        {
            await TooLarge(http, limit).ConfigureAwait(false);
            return;
        }
        var (body, length) = await ReadBodyAsync(http.Request, limit).ConfigureAwait(false);
        try
        {
            if (length > limit)
            {
                await TooLarge(http, limit).ConfigureAwait(false);
                return;
            }
            ReadOnlyMemory<byte> @event = length == 0 ? Null : body.AsMemory(0, length);
            if (!ThawApi.IsJson(@event.Span))
            {
                await Replies.ErrorAsync(http, 400, "bad_event", "the event must be one JSON value (or an empty body for null)").ConfigureAwait(false);
                return;
            }
            // JSON is UTF-8 (RFC 8259), and the reader above does not check the bytes inside strings;
            // the sandbox's json.loads would fail on them and end the sandbox. Vectorized: tens of ns per KiB.
            if (!System.Text.Unicode.Utf8.IsValid(@event.Span))
            {
                await Replies.ErrorAsync(http, 400, "bad_event", "the event is not valid UTF-8 (JSON text must be)").ConfigureAwait(false);
                return;
            }
            var result = await thawd.Invoker.InvokeAsync(name, @event, http.RequestAborted).ConfigureAwait(false);
            try
            {
                await WriteResultAsync(http, result).ConfigureAwait(false);
                await http.Response.CompleteAsync().ConfigureAwait(false);
            }
            finally
            {
                result.Release();
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(body);
        }
    }

    private static Task TooLarge(HttpContext http, long limit) =>
        Replies.ErrorAsync(http, 413, "too_large", $"the event is over the {limit.ToString(CultureInfo.InvariantCulture)}-byte limit");

    /// <summary>Reads up to limit + 1 bytes into a pooled buffer (one more than allowed says "too large").</summary>
    private static async Task<(byte[] Buffer, int Length)> ReadBodyAsync(HttpRequest request, long limit)
    {
        int expected = request.ContentLength is { } n ? (int)Math.Min(n, limit + 1) : 4096;
        var buffer = ArrayPool<byte>.Shared.Rent(Math.Max(expected, 16));
        int length = 0;
        while (true)
        {
            if (length == buffer.Length)
            {
                if (length > limit)
                    return (buffer, length);
                var bigger = ArrayPool<byte>.Shared.Rent((int)Math.Min(buffer.Length * 2L, limit + 1));
                buffer.AsSpan(0, length).CopyTo(bigger);
                ArrayPool<byte>.Shared.Return(buffer);
                buffer = bigger;
            }
            int read;
            try
            {
                read = await request.Body.ReadAsync(buffer.AsMemory(length)).ConfigureAwait(false);
            }
            catch (BadHttpRequestException e) when (e.StatusCode == 413)
            {
                return (buffer, (int)Math.Min(int.MaxValue, limit + 1));
            }
            if (read == 0)
                return (buffer, length);
            length += read;
        }
    }

    private static async Task WriteResultAsync(HttpContext http, CallResult result)
    {
        var response = http.Response;
        var headers = response.Headers;
        WriteCallHeaders(headers, result.Cold, result.Version, result.SandboxId, result.Zygote, result.Phases);
        response.ContentType = "application/json";
        var invocation = result.Invocation;
        if (invocation.Result is { } value)
        {
            response.StatusCode = 200;
            await using var writer = new Utf8JsonWriter(response.BodyWriter, Replies.Writer);
            value.WriteTo(writer);
            await writer.FlushAsync().ConfigureAwait(false);
            return;
        }
        var error = invocation.Error!;
        headers["X-Thaw-Function-Error"] = "Unhandled";
        response.StatusCode = 500;
        await using (var writer = new Utf8JsonWriter(response.BodyWriter, Replies.Writer))
        {
            writer.WriteStartObject();
            writer.WriteString("error", $"the handler raised {error.Type}: {error.Message}");
            writer.WriteString("code", "handler_error");
            writer.WriteString("type", error.Type);
            writer.WriteString("message", error.Message);
            writer.WriteString("traceback", error.Traceback);
            writer.WriteEndObject();
            await writer.FlushAsync().ConfigureAwait(false);
        }
    }

    /// <summary>What a reply says about its call, failed or not: cold or warm, version, sandbox, zygote, Server-Timing (what is known of them).</summary>
    internal static void WriteCallHeaders(IHeaderDictionary headers, bool cold, int version, string? sandboxId, string? zygote, CallPhases phases)
    {
        headers["X-Thaw-Start"] = cold ? "cold" : "warm";
        headers["X-Thaw-Version"] = version.ToString(CultureInfo.InvariantCulture);
        if (sandboxId is not null)
            headers["X-Thaw-Sandbox"] = sandboxId;
        if (zygote is not null)
            headers["X-Thaw-Zygote"] = zygote;
        headers["Server-Timing"] = ServerTiming(phases);
    }

    /// <summary>The W3C Server-Timing header: each measured phase in ms (browsers' dev tools and curl -v show it).</summary>
    internal static string ServerTiming(CallPhases p)
    {
        var text = new StringBuilder(160);
        Add(text, "queue", p.Queue);
        Add(text, "claim", p.Claim);
        Add(text, "fork", p.Fork);
        Add(text, "init", p.Init);
        Add(text, "start", p.Start);
        Add(text, "thaw", p.Thaw > 0 ? p.Thaw : double.NaN);
        Add(text, "call", p.Call);
        Add(text, "handler", p.Handler);
        Add(text, "total", p.Total);
        return text.ToString();
    }

    private static void Add(StringBuilder text, string name, double ms)
    {
        if (double.IsNaN(ms))
            return;
        if (text.Length > 0)
            text.Append(", ");
        // Rounded, then the shortest round-trip form: what "0.###" gives, without its slow custom-format path.
        text.Append(name).Append(";dur=").Append(Math.Round(ms, 3).ToString(CultureInfo.InvariantCulture));
    }
}
