using System.Security.Cryptography;
using Convnet.IO;
using Convnet.Models;
using Convnet.Tests.Cli;
using Convnet.Tests.Models;
using Xunit;
using Convnet.Saving;

namespace Convnet.Tests.Saving;

/// <summary>
/// Model files written by the version of 2026-12-01 (format_version 1) keep loading and predicting
/// the same probabilities: a single model with every kind of layer that has tensors or state, and
/// a two-member ensemble. The fixtures were written by <c>convnet train</c> (see Fixtures/README.md).
/// </summary>
public sealed class ModelFileFixtureTests
{
    private static string Fixture(string name) => Path.Combine(CliHarness.RepoRoot(), "tests", "Convnet.Tests", "Fixtures", name);

    private static string ProbabilitiesHash(IClassifier model)
    {
        var probabilities = model.Predict(SyntheticDigits.Create(20, seed: 5));
        return Convert.ToHexStringLower(SHA256.HashData(System.Runtime.InteropServices.MemoryMarshal.AsBytes(probabilities.AsSpan())));
    }

    [Theory]
    [InlineData("v1-model.safetensors", "fedc9e5b5cea8a2c1835cad7ab6f7389018831ae15406d20960ce747dc724438")]
    [InlineData("v1-ensemble.safetensors", "781db268168998ae8b607d7a79452855a6042c8778e68d065786ef381b0a4284")]
    public void A_file_written_by_format_version_1_loads_and_predicts_as_it_did(string name, string expected)
    {
        var (model, metadata) = ModelFile.LoadClassifier(Fixture(name), threads: 1);
        using (model)
        {
            Assert.Equal("1", metadata["format_version"]);
            Assert.Equal(expected, ProbabilitiesHash(model));
        }
    }

    [Fact]
    public void Saving_a_loaded_fixture_again_writes_the_same_tensors()
    {
        string path = Fixture("v1-model.safetensors");
        using var model = ModelFile.Load(path, threads: 1).Model;
        using var dir = new Data.TempDir();
        string again = dir.File("again.safetensors");
        model.Save(again);
        Assert.Equal(SafeTensors.Read(path).Tensors, SafeTensors.Read(again).Tensors);
    }
}
