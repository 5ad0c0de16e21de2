using Thaw.Cli.Bench;

namespace Thaw.Tests.Support;

/// <summary>
/// A fact that needs a program on PATH (a peer's command-line tool such as runc): skipped, with the
/// reason shown in the results, when the program is missing. Never a test that returns early and passes.
/// </summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class FactNeedingAttribute : FactAttribute
{
    public FactNeedingAttribute(string command)
    {
        Command = command;
        if (PeerCommands.Which(command) is null)
            Skip = $"{command} is not installed (Debian: apt-get install {command}; the bench installs it on first use)";
    }

    public string Command { get; }
}
