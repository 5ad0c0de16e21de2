using System.Globalization;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;
using Thaw.Runtimes.Python;
using Thaw.Service.Deploy;
using Thaw.Service.Scheduling;

namespace Thaw.Service.Http;

/// <summary>Which status and code each failure is (docs/api.md lists them).</summary>
internal static class ApiErrors
{
    public static bool TryMap(Exception e, HttpContext http, out int status, out string code, out JsonObject? extra)
    {
        extra = null;
        switch (e)
        {
            case CallFailedException f:
                Invocations.WriteCallHeaders(http.Response.Headers, f.Cold, f.Version, f.SandboxId, zygote: null, f.Phases);
                return TryMap(f.InnerException!, http, out status, out code, out extra);
            case DeployException d:
                (status, code) = (d.Status, d.Code);
                if (d.Traceback.Length > 0)
                    extra = new JsonObject { ["traceback"] = d.Traceback };
                return true;
            case FunctionGoneException:
                (status, code) = (404, "not_found");
                return true;
            case QueueFullException q:
                http.Response.Headers.RetryAfter = Seconds(q.RetryAfter);
                (status, code) = (429, "queue_full");
                return true;
            case MemoryBudgetException m:
                if (m.RetryAfter is { } retry)
                    http.Response.Headers.RetryAfter = Seconds(retry);
                (status, code) = (503, "memory_budget");
                return true;
            case CallTimeoutException:
                (status, code) = (504, "timeout");
                return true;
            case SandboxGoneException g:
                (status, code) = (502, g.Fault.Code());
                return true;
            case FunctionStartException s:
                (status, code) = (502, "start_failed");
                extra = new JsonObject { ["phase"] = s.Phase, ["traceback"] = s.Traceback };
                return true;
            case BadHttpRequestException b:
                (status, code) = (b.StatusCode, b.StatusCode == 413 ? "too_large" : "bad_request");
                return true;
            default:
                (status, code) = (0, "");
                return false;
        }
    }

    private static string Seconds(TimeSpan t) => Math.Max(1, (int)Math.Ceiling(t.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
}
