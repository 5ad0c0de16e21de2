using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Thaw.Service.Http;

/// <summary>
/// thawd's HTTP API (docs/api.md). Every error is JSON <c>{"error": message, "code": code}</c> with
/// a status that says whose problem it is: 4xx for the caller's input, 429/503 with Retry-After
/// when the node is full, 5xx when a sandbox or thawd failed.
/// </summary>
internal static partial class ThawApi
{
    public static void Map(WebApplication app, Thawd thawd)
    {
        ErrorBodies.Use(app);
        app.MapGet("/healthz", (HttpContext http) => Guarded(http, () => Replies.WriteAsync(http, 200, Replies.Health(thawd))));
        app.MapGet("/metrics", (HttpContext http) => Guarded(http, async () =>
        {
            http.Response.ContentType = "text/plain; version=0.0.4; charset=utf-8";
            await thawd.Metrics.Registry.CollectAndExportAsTextAsync(http.Response.Body, http.RequestAborted).ConfigureAwait(false);
        }));
        app.MapGet("/v1/stats", (HttpContext http) => Guarded(http, () => Replies.WriteAsync(http, 200, Replies.Stats(thawd))));
        app.MapGet("/v1/functions", (HttpContext http) => Guarded(http, () => Replies.WriteAsync(http, 200, Replies.List(thawd))));
        app.MapGet("/v1/functions/{name}", (HttpContext http, string name) => Guarded(http, () =>
            thawd.Registry.Get(name) is { } record ? Replies.WriteAsync(http, 200, Replies.Describe(thawd, record)) : NotFound(http, name)));
        app.MapPut("/v1/functions/{name}", (HttpContext http, string name) => Guarded(http, () => DeployAsync(http, thawd, name)));
        app.MapDelete("/v1/functions/{name}", (HttpContext http, string name) => Guarded(http, async () =>
        {
            var (removed, sandboxes) = await thawd.RemoveAsync(name).ConfigureAwait(false);
            if (!removed)
            {
                await NotFound(http, name).ConfigureAwait(false);
                return;
            }
            await Replies.WriteAsync(http, 200, new System.Text.Json.Nodes.JsonObject { ["name"] = name, ["removed"] = true, ["sandboxes_stopped"] = sandboxes }).ConfigureAwait(false);
        }));
        app.MapGet("/v1/functions/{name}/logs", (HttpContext http, string name) => Guarded(http, async () =>
        {
            if (thawd.Registry.Get(name) is null && !thawd.HasLog(name))
            {
                await NotFound(http, name).ConfigureAwait(false);
                return;
            }
            int lines = int.TryParse(http.Request.Query["lines"], out int n) && n > 0 ? Math.Min(n, 10_000) : 200;
            http.Response.ContentType = "text/plain; charset=utf-8";
            var tail = thawd.LogOf(name).Tail(lines);
            await http.Response.WriteAsync(tail.Count == 0 ? "" : string.Join('\n', tail) + "\n").ConfigureAwait(false);
        }));
        app.MapPost("/v1/functions/{name}/invoke", (HttpContext http, string name) => Guarded(http, () => Invocations.InvokeAsync(http, thawd, name)));
        // OpenLambda's route, for clients written against it.
        app.MapPost("/run/{name}", (HttpContext http, string name) => Guarded(http, () => Invocations.InvokeAsync(http, thawd, name)));
    }

    private static async Task DeployAsync(HttpContext http, Thawd thawd, string name)
    {
        long limit = thawd.Options.Archives.MaxArchiveBytes;
        if (http.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } size)
            size.MaxRequestBodySize = limit + 1; // the archive reader names the limit itself
        var result = await thawd.Deployer.DeployAsync(name, http.Request.Body, http.RequestAborted).ConfigureAwait(false);
        await Replies.WriteAsync(http, result.Created ? 201 : 200, Replies.Deployed(thawd, result)).ConfigureAwait(false);
    }

    internal static Task NotFound(HttpContext http, string name) =>
        Replies.ErrorAsync(http, 404, "not_found", $"no function named '{name}' (deploy it with `thaw deploy DIR`)");

    /// <summary>Runs an endpoint and turns what it throws into the API's JSON errors.</summary>
    private static async Task Guarded(HttpContext http, Func<Task> endpoint)
    {
        try
        {
            await endpoint().ConfigureAwait(false);
        }
        catch (Exception e) when (!http.Response.HasStarted && ApiErrors.TryMap(e, http, out var status, out var code, out var extra))
        {
            await Replies.ErrorAsync(http, status, code, e.Message, extra).ConfigureAwait(false);
        }
        catch (Exception e) when (!http.Response.HasStarted && e is not OperationCanceledException)
        {
            // thawd's own failure: said as JSON like every other error, and logged with its stack.
            Log.Failed(http.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger("thawd.api"), http.Request.Method, http.Request.Path, e);
            await Replies.ErrorAsync(http, 500, "internal", $"thawd failed: {e.Message}").ConfigureAwait(false);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 900, Level = LogLevel.Error, Message = "{Method} {Path} failed")]
        public static partial void Failed(ILogger logger, string method, string path, Exception error);
    }

    internal static bool IsJson(ReadOnlySpan<byte> body)
    {
        try
        {
            var reader = new Utf8JsonReader(body, new JsonReaderOptions { MaxDepth = 256 });
            if (!reader.Read())
                return false;
            reader.Skip();
            return !reader.Read(); // one value, nothing after it
        }
        catch (JsonException)
        {
            return false;
        }
    }
}
