using System.CommandLine;

namespace Thaw.Cli.Commands;

internal static class DemoCommand
{
    public static Command Create()
    {
        var command = new Command("demo", "Show Thaw at work: fill the resource pools, claim from them, compare with fresh creation, clean up.");
        command.SetAction(_ => 0);
        return command;
    }
}
