namespace Thaw.Cli.Bench.Python;

/// <summary>One function of the Python bench: its name, its code dir (thaw.toml + f.py) and what it imports.</summary>
internal sealed record BenchFunction(string Name, string Dir, IReadOnlyList<string> Imports);

/// <summary>
/// The functions `thaw bench python` starts cold: importing nothing, numpy, and PIL+numpy (Debian's
/// python3-numpy and python3-pil, the SOCK paper's image case). Each handler does a little real
/// work with what it imported so a lazily skipped import would show.
/// </summary>
internal static class BenchFunctions
{
    /// <summary>What every peer runs in a fresh interpreter: the function's module, its handler once, the reply printed.</summary>
    public const string FreshInterpreterMain =
        "import sys; sys.path[:0] = ['/handler', '/usr/lib/python3/dist-packages']; import json, f; print(json.dumps(f.f(None)))";

    public static IReadOnlyList<BenchFunction> Create(string dir)
    {
        var functions = new List<BenchFunction>
        {
            Write(dir, "none", [], "def f(event):\n    return 'ok'\n"),
            Write(dir, "numpy", ["numpy"], "import numpy\n\ndef f(event):\n    return int(numpy.arange(10).sum())\n"),
            Write(dir, "pil-numpy", ["numpy", "PIL.Image"],
                "import numpy\nimport PIL.Image\n\ndef f(event):\n    image = PIL.Image.fromarray(numpy.zeros((8, 8), dtype=numpy.uint8))\n    return list(image.resize((4, 4)).size)\n"),
        };
        return functions;
    }

    private static BenchFunction Write(string dir, string name, IReadOnlyList<string> imports, string code)
    {
        string fn = Path.Combine(dir, name);
        Directory.CreateDirectory(fn);
        File.WriteAllText(Path.Combine(fn, "thaw.toml"), $"name = \"{name}\"\nmemory = \"256M\"\n");
        File.WriteAllText(Path.Combine(fn, "f.py"), code);
        return new BenchFunction(name, fn, imports);
    }
}
