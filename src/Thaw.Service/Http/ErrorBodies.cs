using System.Globalization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.WebUtilities;

namespace Thaw.Service.Http;

/// <summary>
/// The JSON body of the error replies no endpoint of thawd's writes: ASP.NET Core's routing answers an
/// unknown route with an empty 404 and a known route with another method with an empty 405 (from an
/// endpoint of its own, not a route's). docs/api.md promises <c>{"error", "code"}</c> for every error.
/// A request routed to one of thawd's endpoints passes straight through, with no wrapper on the warm
/// path; those endpoints turn their own failures into JSON (<see cref="ThawApi"/>'s Guarded). Requests
/// Kestrel refuses before any endpoint runs (a malformed request line, headers over its limits) get
/// Kestrel's own empty reply and a closed connection: no application code sees them.
/// </summary>
internal static class ErrorBodies
{
    public static void Use(IApplicationBuilder app) => app.Use(next => http =>
        http.GetEndpoint() is RouteEndpoint ? next(http) : NotRoutedAsync(http, next));

    private static async Task NotRoutedAsync(HttpContext http, RequestDelegate next)
    {
        await next(http).ConfigureAwait(false);
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
    }
}
