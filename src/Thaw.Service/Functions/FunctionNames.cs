using System.Text.RegularExpressions;

namespace Thaw.Service.Functions;

/// <summary>What a function may be called (as thaw.toml's name): it becomes a directory name and a metric label.</summary>
public static partial class FunctionNames
{
    public static bool IsValid(string name) => Pattern().IsMatch(name);

    [GeneratedRegex("^[a-z][a-z0-9-]{0,62}$")]
    private static partial Regex Pattern();
}
