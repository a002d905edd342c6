using Xunit;

namespace Convnet.Tests.Cli;

/// <summary>Fuzz findings as the user meets them (fuzz/README.md): one line naming the problem, exit 1.</summary>
public class CliFuzzFindingTests
{
    [Theory]
    [InlineData("flatten,dense1000000,dense10", "token 2 'dense1000000'")]
    [InlineData("relu,conv32k3-conv223232k3", "token 2 'conv32k3-conv223232k3'")]
    [InlineData("flatten,dense5478275,dense10", "token 2 'dense5478275'")]
    public void Summary_of_a_spec_too_large_to_build_is_a_user_error(string spec, string where)
    {
        var result = CliHarness.Run("summary", "--arch", spec);

        Assert.True(result.ExitCode == 1, result.ToString());
        Assert.Contains(where, result.Err, StringComparison.Ordinal);
        Assert.Contains("a spec may build", result.Err, StringComparison.Ordinal);
        Assert.DoesNotContain("System.", result.Err, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", result.Err, StringComparison.Ordinal);
    }
}
