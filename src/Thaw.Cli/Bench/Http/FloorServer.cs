using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Logging;

namespace Thaw.Cli.Bench.Http;

/// <summary>
/// The physical floor of `thaw bench http`: a bare Kestrel endpoint in this process,
/// <c>POST /floor</c>, that reads the request body and answers <c>{}</c> at once — what a warm
/// invoke does on the HTTP side, minus the function. Whatever thawd adds over this is Thaw's cost.
/// </summary>
internal sealed class FloorServer : IAsyncDisposable
{
    private static readonly byte[] EmptyObject = "{}"u8.ToArray();

    private readonly WebApplication _app;

    private FloorServer(WebApplication app, Uri url)
    {
        _app = app;
        Url = url;
    }

    /// <summary>The bound base address, e.g. http://127.0.0.1:41234/ (the endpoint is <c>floor</c> under it).</summary>
    public Uri Url { get; }

    public static async Task<FloorServer> StartAsync()
    {
        // No config reload: with it the host watches its content root (the current directory)
        // recursively through inotify, for an appsettings.json the floor never has.
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = ["--hostBuilder:reloadConfigOnChange=false"] });
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0));
        var app = builder.Build();
        app.MapPost("/floor", async context =>
        {
            await context.Request.Body.CopyToAsync(Stream.Null, context.RequestAborted);
            context.Response.ContentType = "application/json";
            context.Response.ContentLength = EmptyObject.Length;
            await context.Response.Body.WriteAsync(EmptyObject, context.RequestAborted);
        });
        await app.StartAsync();
        // Once started, Urls holds the addresses Kestrel bound: port 0 resolved to the real one.
        string address = app.Urls.Single();
        return new FloorServer(app, new Uri(address.EndsWith('/') ? address : address + "/"));
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
