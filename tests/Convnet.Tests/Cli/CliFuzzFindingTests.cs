using Xunit;

namespace Convnet.Tests.Cli;

/// <summary>Fuzz findings as the user meets them (fuzz/README.md): one line naming the problem, exit 1.</summary>
public class CliFuzzFindingTests
{
    [Theory]
    [InlineData("flatten,dense1000000,dense10", "token 2 'dense1000000'", "above the memory limit of 1.0 GB")]
    [InlineData("relu,conv32k3-conv223232k3", "token 2 'conv32k3-conv223232k3'", "above the memory limit of 1.0 GB")]
    [InlineData("flatten,dense5478275,dense10", "token 2 'dense5478275'", "would hold more values than one array can")]
    public void Summary_of_a_spec_too_large_to_build_is_a_user_error(string spec, string where, string problem)
    {
        var result = CliHarness.Run("summary", "--memory-limit", "1G", "--arch", spec);

        Assert.True(result.ExitCode == 1, result.ToString());
        Assert.Contains(where, result.Err, StringComparison.Ordinal);
        Assert.Contains(problem, result.Err, StringComparison.Ordinal);
        Assert.DoesNotContain("System.", result.Err, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", result.Err, StringComparison.Ordinal);
    }
}
