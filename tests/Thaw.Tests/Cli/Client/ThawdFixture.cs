using Spectre.Console;
using Thaw.Tests.Service;

namespace Thaw.Tests.Cli.Client;

/// <summary>One real thawd for a whole test class (a start costs about a second), on loopback TCP and a Unix socket.</summary>
public sealed class ThawdFixture : IAsyncLifetime
{
    public ThawdInstance Thawd { get; private set; } = null!;

    public string UnixSocket { get; } = $"/tmp/thaw-test-{Guid.NewGuid():N}.sock";

    public async Task InitializeAsync() => Thawd = await ThawdInstance.StartAsync(o => o.UnixSocket = UnixSocket);

    public async Task DisposeAsync() => await Thawd.DisposeAsync();

    /// <summary>A console that writes plain text (no colours, no cursor moves, no spinner) to a string.</summary>
    public static (IAnsiConsole Console, StringWriter Output) Console()
    {
        var output = new StringWriter();
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Ansi = AnsiSupport.No,
            ColorSystem = ColorSystemSupport.NoColors,
            Interactive = InteractionSupport.No,
            Out = new AnsiConsoleOutput(output),
        });
        console.Profile.Width = 200;
        return (console, output);
    }
}
