namespace Thaw.Cli.Bench.Python;

/// <summary>One function of the Python bench: its name, its code dir (thaw.toml + f.py) and what it imports.</summary>
internal sealed record BenchFunction(string Name, string Dir, IReadOnlyList<string> Imports)
{
    /// <summary>Its installed packages' dirs inside a sandbox (/packages/NAME-VERSION), once installed.</summary>
    public IReadOnlyList<string> PackagePaths { get; set; } = [];

    /// <summary>The handler's module (at /handler): f.py, OpenLambda's style, unless the function says otherwise.</summary>
    public string Module { get; init; } = "f";

    /// <summary>The Python expression that calls the handler once, with the module imported.</summary>
    public string Call { get; init; } = "f.f(None)";

    /// <summary>What every peer runs in a fresh interpreter: the function's module, its handler once, the reply printed.</summary>
    public string FreshInterpreterMain =>
        $"import sys; sys.path[:0] = ['/handler', {string.Concat(PackagePaths.Select(p => $"'{p}', "))}'/usr/lib/python3/dist-packages']; import json, {Module}; print(json.dumps({Call}))";
}

/// <summary>
/// The functions `thaw bench python` starts cold: importing nothing, numpy, PIL+numpy (Debian's
/// python3-numpy and python3-pil, the SOCK paper's image case), and ten packages built here and
/// installed through the install cache. Each handler does a little real work with what it imported
/// so a lazily skipped import would show.
/// </summary>
internal static class BenchFunctions
{
    public const int LocalPackages = 10;

    /// <summary>The functions, and in <paramref name="wheelhouse"/> the locally built packages of the tenth-package one.</summary>
    public static IReadOnlyList<BenchFunction> Create(string dir, string wheelhouse)
    {
        Directory.CreateDirectory(wheelhouse);
        var packages = Enumerable.Range(0, LocalPackages).Select(i => BuildPackage(wheelhouse, i)).ToList();
        var functions = new List<BenchFunction>
        {
            Write(dir, "none", [], "def f(event):\n    return 'ok'\n"),
            Write(dir, "numpy", ["numpy"], "import numpy\n\ndef f(event):\n    return int(numpy.arange(10).sum())\n"),
            Write(dir, "pil-numpy", ["numpy", "PIL.Image"],
                "import numpy\nimport PIL.Image\n\ndef f(event):\n    image = PIL.Image.fromarray(numpy.zeros((8, 8), dtype=numpy.uint8))\n    return list(image.resize((4, 4)).size)\n"),
            Write(dir, "ten-packages", [.. packages.Select(p => p.Module)],
                string.Concat(packages.Select(p => $"import {p.Module}\n")) + "\ndef f(event):\n    return sum([" +
                string.Join(", ", packages.Select(p => $"{p.Module}.Thing0().method0()")) + "])\n",
                [.. packages.Select(p => p.Name + "==1.0")]),
        };
        return functions;
    }

    /// <summary>
    /// One locally built package: a module of 300 small classes, so importing it costs what a
    /// modest real library's import does (compiling and executing its definitions).
    /// </summary>
    private static (string Name, string Module) BuildPackage(string wheelhouse, int i)
    {
        string name = $"thawbench-pkg{i}", module = $"thawbench_pkg{i}";
        var code = new System.Text.StringBuilder($"\"\"\"Bench package {i}.\"\"\"\nimport json\nimport re\n\n");
        for (int c = 0; c < 300; c++)
            code.Append($"class Thing{c}:\n    PATTERN = re.compile(r'thing{c}-(\\d+)')\n    def method0(self):\n        return {c % 7}\n    def method1(self, x):\n        return json.dumps({{'c': {c}, 'x': x}})\n\n");
        Thaw.Runtimes.Packages.WheelBuilder.Build(wheelhouse, name, "1.0", [], ($"{module}.py", code.ToString()));
        return (name, module);
    }

    private static BenchFunction Write(string dir, string name, IReadOnlyList<string> imports, string code, IReadOnlyList<string>? packages = null)
    {
        string fn = Path.Combine(dir, name);
        Directory.CreateDirectory(fn);
        string requirements = packages is { Count: > 0 } ? $"packages = [{string.Join(", ", packages.Select(p => $"\"{p}\""))}]\n" : "";
        File.WriteAllText(Path.Combine(fn, "thaw.toml"), $"name = \"{name}\"\nmemory = \"256M\"\n{requirements}");
        File.WriteAllText(Path.Combine(fn, "f.py"), code);
        return new BenchFunction(name, fn, imports);
    }
}
