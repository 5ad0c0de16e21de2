using System.Globalization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Thaw.Service.Http;

/// <summary>
/// The JSON body of error replies no endpoint wrote: ASP.NET Core's routing answers an unknown route
/// with an empty 404 and a known route with another method with an empty 405, and an exception that
/// escaped an endpoint would be an empty 500. docs/api.md promises <c>{"error", "code"}</c> for every
/// error. (Requests Kestrel refuses before any endpoint runs — a malformed request line, headers over
/// its limits — get Kestrel's own empty reply and a closed connection: no application code sees them.)
/// </summary>
internal static class ErrorBodies
{
    public static void Use(IApplicationBuilder app) => app.Use(async (http, next) =>
    {
        try
        {
            await next(http).ConfigureAwait(false);
        }
        catch (Exception e) when (!http.Response.HasStarted && e is not OperationCanceledException)
        {
            ThawApi.Log.Failed(http.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger("thawd.api"), http.Request.Method, http.Request.Path, e);
            await Replies.ErrorAsync(http, 500, "internal", $"thawd failed: {e.Message}").ConfigureAwait(false);
            return;
        }
        var response = http.Response;
        if (response.StatusCode < 400 || response.HasStarted || response.ContentType is not null || response.ContentLength is > 0)
            return;
        var request = http.Request;
        var (code, message) = response.StatusCode switch
        {
            404 => ("not_found", $"no route {request.Method} {request.Path} (docs/api.md lists the API)"),
            405 => ("method_not_allowed", $"{request.Method} is not allowed on {request.Path} (allowed: {response.Headers.Allow})"),
            int status => (ReasonPhrases.GetReasonPhrase(status).ToLowerInvariant().Replace(' ', '_'),
                $"{status.ToString(CultureInfo.InvariantCulture)} {ReasonPhrases.GetReasonPhrase(status)}"),
        };
        await Replies.ErrorAsync(http, response.StatusCode, code, message).ConfigureAwait(false);
    });
}
