using Thaw.Runtimes.Packages;

namespace Thaw.Tests.Runtimes.Packages;

public sealed class RequirementTests
{
    [Theory]
    [InlineData("numpy", "1.24.2", true)]
    [InlineData("numpy==1.24.2", "1.24.2", true)]
    [InlineData("numpy==1.24", "1.24.0", true)]
    [InlineData("numpy==1.24.*", "1.24.9", true)]
    [InlineData("numpy>=1.10,<2", "1.9.0", false)]
    [InlineData("numpy>=1.10,<2", "1.24.2", true)]
    [InlineData("numpy (>=1.10)", "1.10", true)]
    [InlineData("numpy!=1.24.2", "1.24.2", false)]
    [InlineData("numpy~=1.24", "1.30", true)]
    [InlineData("numpy~=1.24", "2.0", false)]
    public void Version_clauses_compare_release_numbers(string requirement, string version, bool satisfied) =>
        Assert.Equal(satisfied, Requirement.Parse(requirement).IsSatisfiedBy(version));

    [Fact]
    public void Names_normalise_and_extras_markers_are_recognised()
    {
        Assert.Equal("typing-extensions", Requirement.Parse("Typing_Extensions>=4").Key);
        Assert.False(Requirement.Parse("pytest; extra == \"test\"").AppliesWithoutExtras);
        Assert.True(Requirement.Parse("tomli; python_version < \"3.11\"").AppliesWithoutExtras);
        Assert.Throws<FormatException>(() => Requirement.Parse("num py"));
        Assert.Throws<FormatException>(() => Requirement.Parse("numpy=>1"));
    }

    [Fact]
    public void The_base_images_numpy_and_pillow_are_found_with_their_versions()
    {
        var index = PackageIndex.Load(null, ["/usr/lib/python3/dist-packages"]);
        Assert.Contains(index.Candidates("numpy"), d => d.IsSystem);
        Assert.Contains(index.Candidates("pillow"), d => d.IsSystem);
    }
}
