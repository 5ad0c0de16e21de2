using System.CommandLine;

namespace Thaw.Cli.Commands;

internal static class BenchCommand
{
    public static Command Create()
    {
        var command = new Command("bench", "Benchmarks that compare Thaw with a real peer in the same run.");
        return command;
    }
}
