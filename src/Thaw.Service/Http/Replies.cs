using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;
using Thaw.Service.Deploy;
using Thaw.Service.Registry;
using Thaw.Service.Scheduling;

namespace Thaw.Service.Http;

/// <summary>The API's JSON bodies (docs/api.md), snake_case like the rest of the serverless world.</summary>
internal static class Replies
{
    /// <summary>Quotes and apostrophes as they are: these bodies are read by programs and people, never embedded in HTML.</summary>
    internal static readonly JsonWriterOptions Writer = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static async Task WriteAsync(HttpContext http, int status, JsonNode body)
    {
        http.Response.StatusCode = status;
        http.Response.ContentType = "application/json";
        await using var writer = new Utf8JsonWriter(http.Response.BodyWriter, Writer);
        body.WriteTo(writer);
        await writer.FlushAsync().ConfigureAwait(false);
    }

    public static Task ErrorAsync(HttpContext http, int status, string code, string message, JsonObject? extra = null)
    {
        // A refused oversized body is left unread: the connection cannot carry another request.
        if (status == 413)
            http.Response.Headers.Connection = "close";
        var body = new JsonObject { ["error"] = message, ["code"] = code };
        if (extra is not null)
            foreach (var (key, value) in extra.ToList())
            {
                extra.Remove(key);
                body[key] = value;
            }
        return WriteAsync(http, status, body);
    }

    public static JsonObject Health(Thawd thawd) => new()
    {
        ["status"] = thawd.Spawner.Zygote.IsAlive ? "ok" : "degraded",
        ["api"] = ServiceInfo.ApiVersion,
        ["started_at"] = thawd.StartedAt.ToString("O"),
        ["zygote_pid"] = thawd.Spawner.Zygote.Pid,
    };

    public static JsonObject List(Thawd thawd)
    {
        var stats = thawd.Cache.Stats().Functions.ToDictionary(f => f.Name);
        return new JsonObject
        {
            ["functions"] = new JsonArray([.. thawd.Registry.List().Select(r => (JsonNode)Function(thawd, r, stats.GetValueOrDefault(r.Name)))]),
        };
    }

    public static JsonObject Describe(Thawd thawd, FunctionRecord record) =>
        Function(thawd, record, thawd.Cache.Stats().Functions.FirstOrDefault(f => f.Name == record.Name));

    private static JsonObject Function(Thawd thawd, FunctionRecord record, FunctionPoolStats? live)
    {
        var deployment = thawd.Cache.Get(record.Name)?.Current;
        var body = new JsonObject
        {
            ["name"] = record.Name,
            ["version"] = record.Version,
            ["deployed_at"] = record.DeployedAt.ToString("O"),
            ["sha256"] = record.Sha256,
            ["installed"] = new JsonArray([.. record.Installed.Select(i => (JsonNode)i!)]),
            ["zygote"] = record.Zygote,
        };
        if (deployment is { Manifest: var m })
        {
            body["runtime"] = m.Runtime;
            if (m.Runtime == "exec")
                body["command"] = new JsonArray([.. m.Command.Select(c => (JsonNode)c!)]);
            else
                body["handler"] = m.Handler;
            body["memory_mb"] = m.MemoryBytes >> 20;
            body["timeout_s"] = m.Timeout.TotalSeconds;
            body["concurrency"] = m.Concurrency;
            body["isolation"] = m.Isolation.ToString().ToLowerInvariant();
            body["keep_alive_s"] = (m.KeepAlive ?? thawd.Cache.Options.KeepAlive).TotalSeconds;
            body["packages"] = new JsonArray([.. m.Packages.Select(p => (JsonNode)p!)]);
        }
        else
            body["error"] = "its code could not be loaded at start (see thawd's log); redeploy it";
        if (live is not null)
        {
            body["sandboxes"] = new JsonObject { ["busy"] = live.Busy, ["idle"] = live.Idle, ["frozen"] = live.Frozen, ["queued"] = live.Queued };
            body["invocations"] = new JsonObject { ["cold"] = live.ColdCalls, ["warm"] = live.WarmCalls };
        }
        return body;
    }

    public static JsonObject Deployed(Thawd thawd, DeployResult result)
    {
        var record = thawd.Registry.Get(result.Deployment.Name)!;
        var body = Describe(thawd, record);
        body["created"] = result.Created;
        body["packages_seen"] = new JsonArray([.. result.PackagesSeen.Select(p => (JsonNode)p!)]);
        body["timings_ms"] = new JsonObject
        {
            ["extract"] = Math.Round(result.ExtractMs, 2),
            ["packages"] = Math.Round(result.PackagesMs, 2),
            ["validate"] = Math.Round(result.ValidateMs, 2),
        };
        return body;
    }

    public static JsonObject Stats(Thawd thawd)
    {
        var cache = thawd.Cache.Stats();
        var pools = new JsonArray();
        foreach (var p in thawd.Host.Stats())
            pools.Add(new JsonObject
            {
                ["name"] = p.Name,
                ["target"] = p.Target,
                ["available"] = p.Level,
                ["in_use"] = p.InUse,
                ["live"] = p.Live,
                ["claims"] = p.Claims,
                ["misses"] = p.Misses,
                ["hit_rate"] = Math.Round(p.HitRate, 4),
            });
        var importCache = thawd.Python.ImportCache;
        var nodes = new JsonArray();
        foreach (var n in importCache?.Nodes ?? [])
            nodes.Add(new JsonObject
            {
                ["packages"] = new JsonArray([.. n.Packages.Order(StringComparer.Ordinal).Select(p => (JsonNode)p!)]),
                ["memory_bytes"] = n.MemoryBytes,
                ["live_sandboxes"] = n.Live,
                ["forks"] = n.Uses,
                ["parked"] = n.Zygote.ParkedPids.Count,
                ["park_target"] = n.Zygote.ParkTarget,
            });
        var functions = new JsonArray();
        foreach (var f in cache.Functions)
            functions.Add(new JsonObject
            {
                ["name"] = f.Name,
                ["version"] = f.Version,
                ["busy"] = f.Busy,
                ["idle"] = f.Idle,
                ["frozen"] = f.Frozen,
                ["queued"] = f.Queued,
                ["cold"] = f.ColdCalls,
                ["warm"] = f.WarmCalls,
            });
        return new JsonObject
        {
            ["pools"] = pools,
            ["zygotes"] = new JsonObject
            {
                ["root_pid"] = thawd.Spawner.Zygote.Pid,
                ["restarts"] = thawd.Spawner.ZygoteRestarts,
                ["parked"] = thawd.Spawner.Zygote.ParkedPids.Count,
                ["park_target"] = thawd.Spawner.Zygote.ParkTarget,
                ["count"] = 1 + nodes.Count,
                ["memory_bytes"] = cache.ZygoteBytes,
                ["evictions"] = importCache?.Evictions ?? 0,
                ["nodes"] = nodes,
            },
            ["handler_cache"] = new JsonObject
            {
                ["warm_calls"] = cache.WarmCalls,
                ["cold_calls"] = cache.ColdCalls,
                ["hit_rate"] = Math.Round(cache.HitRate, 4),
                ["evictions"] = cache.Evictions,
                ["expired"] = cache.Expired,
                ["freezes"] = cache.Freezes,
                ["thaws"] = cache.Thaws,
                ["rejected_queue_full"] = cache.QueueFull,
                ["rejected_memory_budget"] = cache.BudgetRefusals,
            },
            ["memory"] = new JsonObject
            {
                ["accounting"] = cache.Accounting == MemoryAccounting.Measured ? "measured" : "limits",
                ["overcommit_factor"] = cache.OvercommitFactor,
                ["budget_bytes"] = cache.BudgetBytes,
                ["sandboxes_bytes"] = cache.ReservedBytes,
                ["sandboxes_limits_bytes"] = cache.LimitBytes,
                ["sandboxes_measured_bytes"] = cache.MeasuredBytes,
                ["sandboxes_measured"] = cache.MeasuredSandboxes,
                ["zygotes_bytes"] = cache.ZygoteBytes,
            },
            ["functions"] = functions,
        };
    }
}
