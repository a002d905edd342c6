using Convnet.Tests.Models;
using Convnet.IO;
using Convnet.Layers;
using Convnet.Models;
using Convnet.Tensors;
using Convnet.Tests.Data;
using Convnet.Tests.Support;
using Xunit;
using Convnet.Saving;

namespace Convnet.Tests.Saving;

/// <summary>
/// An ensemble is one model file: each member's tensors and metadata under "member&lt;k&gt;.";
/// it round-trips bit for bit, and a file that does not add up is refused naming what is wrong.
/// </summary>
public sealed class EnsembleFileTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    /// <summary>Two trained members saved with top-level and per-member metadata.</summary>
    private string SaveTwo(string name = "ensemble.safetensors")
    {
        string path = _dir.File(name);
        var members = EnsembleTests.TrainedMembers(2);
        try
        {
            ModelFile.SaveEnsemble(members, path, new Dictionary<string, string> { ["arch"] = "test" },
                [new Dictionary<string, string> { ["seed"] = "1" }, new Dictionary<string, string> { ["seed"] = "2" }]);
        }
        finally
        {
            members.ForEach(m => m.Dispose());
        }
        return path;
    }

    [Fact]
    public void Each_member_is_its_own_state_dict_under_its_prefix_and_reloads_bit_for_bit()
    {
        var data = EnsembleTests.RandomImages(30, seed: 8);
        var members = EnsembleTests.TrainedMembers(2);
        using var ensemble = new Ensemble(members);
        string path = _dir.File("ensemble.safetensors");
        ensemble.Save(path, new Dictionary<string, string> { ["arch"] = "test" },
            [new Dictionary<string, string> { ["seed"] = "1" }, new Dictionary<string, string> { ["seed"] = "2" }]);

        // The tensors: exactly each member's single-model file, names prefixed, in member order.
        var (tensors, metadata) = SafeTensors.Read(path);
        var expected = new List<NamedTensor>();
        for (int k = 0; k < 2; k++)
        {
            string single = _dir.File($"member{k}.safetensors");
            members[k].Save(single);
            expected.AddRange(SafeTensors.Read(single).Tensors.Select(t => new NamedTensor($"member{k}.{t.Name}", t.Shape, t.Data)));
        }
        Assert.Equal(expected, tensors);
        Assert.Contains(tensors, t => t.Name == "member1.1.running_mean");
        Assert.Contains(tensors, t => t.Name == "member0.0.weight");

        Assert.Equal("2", metadata["ensemble"]);
        Assert.Equal("1", metadata["format_version"]);
        Assert.Equal("28,28,1", metadata["input_shape"]);
        Assert.Equal("10", metadata["classes"]);
        Assert.Equal("22164", metadata["parameters"]);
        Assert.Equal("test", metadata["arch"]);
        Assert.Equal("2", metadata["member1.seed"]);
        Assert.Equal(ModelFile.ArchitectureJson(members[1]), metadata["member1.architecture"]);
        Assert.Equal("28,28,1", metadata["member1.input_shape"]);
        Assert.False(metadata.ContainsKey("architecture"));
        Assert.Equal(new Dictionary<string, string>
        {
            ["seed"] = "2",
            ["architecture"] = metadata["member1.architecture"],
            ["input_shape"] = "28,28,1",
            ["classes"] = "10",
            ["parameters"] = "11082",
        }, ModelFile.MemberMetadata(metadata, 1));

        var (loaded, loadedMetadata) = ModelFile.LoadEnsemble(path, threads: 2);
        using (loaded)
        {
            Assert.Equal(metadata, loadedMetadata);
            Assert.Equal(2, loaded.Members.Count);
            Assert.All(loaded.Members, m => Assert.Equal(2, m.Threads));
            Numerics.AssertBitEqual(members[1].GetWeights(), loaded.Members[1].GetWeights(), "member 1's weights and state");
            Numerics.AssertBitEqual(ensemble.Predict(data), loaded.Predict(data), "predictions after reloading");
        }
        using var classifier = ModelFile.LoadClassifier(path, threads: 1).Model;
        Assert.IsType<Ensemble>(classifier);
        Numerics.AssertBitEqual(ensemble.Predict(data), classifier.Predict(data), "predictions through LoadClassifier");
    }

    [Fact]
    public void Loading_one_kind_as_the_other_fails_clearly_and_LoadClassifier_takes_both()
    {
        string path = SaveTwo();
        var asSingle = Assert.Throws<ModelFormatException>(() => ModelFile.Load(path, threads: 1));
        Assert.Equal(path, asSingle.FilePath);
        Assert.Contains("ensemble of 2 models", asSingle.Message);
        Assert.Contains("ModelFile.LoadClassifier", asSingle.Message);

        string single = _dir.File("single.safetensors");
        using (var model = KerasLayerModelTests.Create(seed: 4))
        {
            model.Save(single);
            using var loaded = ModelFile.LoadClassifier(single, threads: 1).Model;
            var reloaded = Assert.IsType<Sequential>(loaded);
            Numerics.AssertBitEqual(model.GetWeights(), reloaded.GetWeights(), "single model through LoadClassifier");
        }
        var asEnsemble = Assert.Throws<ModelFormatException>(() => ModelFile.LoadEnsemble(single, threads: 1));
        Assert.Contains("not an ensemble", asEnsemble.Message);
    }

    /// <summary>Edits to a good two-member file and what the error must say.</summary>
    public static TheoryData<string> Malformations => [.. Edits.Keys];

    private static readonly Dictionary<string, (Action<List<NamedTensor>, Dictionary<string, string>> Edit, string[] Parts)> Edits = new()
    {
        ["missing tensor"] = ((t, _) => t.RemoveAll(x => x.Name == "member1.0.bias"), ["missing tensor 'member1.0.bias'"]),
        ["unexpected tensor"] = ((t, _) => t.Add(new NamedTensor("member0.99.weight", [1], [0f])), ["unexpected tensor 'member0.99.weight'", "no member's architecture uses"]),
        ["tensor of a third member"] = ((t, _) => t.Add(new NamedTensor("member2.0.weight", [1], [0f])), ["unexpected tensor 'member2.0.weight'", "ensemble is 2"]),
        ["ensemble count too high"] = ((_, m) => m["ensemble"] = "3", ["ensemble is 3", "no 'member2.architecture'"]),
        ["ensemble count too low"] = ((_, m) => m["ensemble"] = "1", ["'member1.architecture' belongs to member 1", "ensemble is 1"]),
        ["ensemble count zero"] = ((_, m) => m["ensemble"] = "0", ["invalid ensemble '0'"]),
        ["ensemble count not a number"] = ((_, m) => m["ensemble"] = "two", ["invalid ensemble 'two'"]),
        ["member with another input shape"] = ((_, m) => m["member1.input_shape"] = "14,14,1", ["member 1 takes member1.input_shape 14,14,1", "ensemble's input_shape is 28,28,1"]),
        ["member without an input shape"] = ((_, m) => m.Remove("member0.input_shape"), ["no 'member0.input_shape'"]),
        ["member scoring other classes"] = ((_, m) => m["classes"] = "5", ["member 0 scores 10 classes", "ensemble's classes is 5"]),
        ["member with a bad architecture"] = ((_, m) => m["member1.architecture"] = "[{\"type\":\"Nope\"}]", ["invalid member1.architecture"]),
        ["member tensor of the wrong shape"] = ((t, _) =>
        {
            int i = t.FindIndex(x => x.Name == "member0.6.bias");
            t[i] = new NamedTensor("member0.6.bias", [15], new float[15]);
        }, ["tensor 'member0.6.bias' has shape [15]", "needs [16]"]),
    };

    [Theory]
    [MemberData(nameof(Malformations))]
    public void A_malformed_ensemble_file_is_refused_naming_the_file_and_the_problem(string name)
    {
        string path = Malformed(SaveTwo(), name);

        foreach (var load in new Func<string, IDisposable>[] { p => ModelFile.LoadEnsemble(p, 1).Model, p => ModelFile.LoadClassifier(p, 1).Model })
        {
            var e = Assert.Throws<ModelFormatException>(() => load(path));
            Assert.Equal(path, e.FilePath);
            foreach (string part in Edits[name].Parts)
            {
                Assert.Contains(part, e.Message);
            }
        }
    }

    /// <summary>A copy of <paramref name="good"/> with the named edit, its checksum recomputed so that only the edit is wrong.</summary>
    internal static string Malformed(string good, string name)
    {
        var (tensors, metadata) = SafeTensors.Read(good);
        var t = tensors.ToList();
        var m = new Dictionary<string, string>(metadata);
        Edits[name].Edit(t, m);
        m[SafeTensors.ChecksumKey] = SafeTensors.Sha256OfTensorBytes(t);
        string path = Path.Combine(Path.GetDirectoryName(good)!, "malformed.safetensors");
        SafeTensors.Write(path, t, m);
        return path;
    }

    [Fact]
    public void SaveEnsemble_refuses_what_it_could_not_load()
    {
        var members = EnsembleTests.Members(2);
        var smaller = new Sequential(Shape.Image(14, 14, 1), seed: 1, threads: 1);
        smaller.Add(new Flatten()).Add(new Dense(10)).Add(new Softmax());
        try
        {
            string path = _dir.File("never.safetensors");
            var shape = Assert.Throws<ArgumentException>(() => ModelFile.SaveEnsemble([members[0], smaller], path));
            Assert.Contains("Member 1 takes (14, 14, 1)", shape.Message);
            var count = Assert.Throws<ArgumentException>(() => ModelFile.SaveEnsemble(members, path, memberMetadata: [new Dictionary<string, string>()]));
            Assert.Contains("1 member metadata dictionaries for 2 members", count.Message);
            var key = Assert.Throws<ArgumentException>(() => ModelFile.SaveEnsemble(members, path, new Dictionary<string, string> { ["member0.seed"] = "1" }));
            Assert.Contains("'member0.seed'", key.Message);
            Assert.False(File.Exists(path));
        }
        finally
        {
            members.ForEach(m => m.Dispose());
            smaller.Dispose();
        }
    }
}
