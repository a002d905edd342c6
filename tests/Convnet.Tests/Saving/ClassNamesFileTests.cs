using Convnet.Data;
using Convnet.IO;
using Convnet.Models;
using Convnet.Optimizers;
using Convnet.Saving;
using Convnet.Tests.Data;
using Convnet.Tests.Models;
using Convnet.Training;
using Xunit;

namespace Convnet.Tests.Saving;

/// <summary>Class names travel from the data through training into the model file and back.</summary>
public sealed class ClassNamesFileTests : IDisposable
{
    private static readonly string[] Names = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine \"9\" ✓"];

    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private static Sequential Model(IReadOnlyList<string>? names, ulong seed = 1)
    {
        var model = ReferenceModel.Create(seed: seed, threads: 1);
        model.ClassNames = names;
        return model;
    }

    [Fact]
    public void A_model_saves_and_loads_its_class_names_and_a_model_without_them_writes_no_key()
    {
        string named = _dir.File("named.safetensors"), plain = _dir.File("plain.safetensors");
        using (var model = Model(Names))
        {
            model.Save(named);
        }
        using (var model = Model(null))
        {
            model.Save(plain);
        }
        Assert.Equal("[\"zero\",\"one\",\"two\",\"three\",\"four\",\"five\",\"six\",\"seven\",\"eight\",\"nine \\u00229\\u0022 \\u2713\"]", SafeTensors.ReadMetadata(named)[ModelFile.ClassNamesKey]);
        Assert.False(SafeTensors.ReadMetadata(plain).ContainsKey(ModelFile.ClassNamesKey));
        using var loaded = ModelFile.Load(named).Model;
        Assert.Equal(Names, loaded.ClassNames);
        using var loadedPlain = ModelFile.Load(plain).Model;
        Assert.Null(loadedPlain.ClassNames);
        using var classifier = ModelFile.LoadClassifier(named).Model;
        Assert.Equal("nine \"9\" ✓", classifier.ClassName(9));
        using var plainClassifier = ModelFile.LoadClassifier(plain).Model;
        Assert.Equal("9", plainClassifier.ClassName(9));
    }

    [Fact]
    public void An_ensemble_keeps_the_names_per_member_and_at_the_top_and_refuses_members_that_disagree()
    {
        string path = _dir.File("ensemble.safetensors");
        using (var a = Model(Names, 1))
        using (var b = Model(Names, 2))
        {
            ModelFile.SaveEnsemble([a, b], path);
        }
        var metadata = SafeTensors.ReadMetadata(path);
        Assert.Equal(metadata[ModelFile.ClassNamesKey], metadata["member1." + ModelFile.ClassNamesKey]);
        using (var ensemble = ModelFile.LoadEnsemble(path).Model)
        {
            Assert.Equal(Names, ensemble.ClassNames);
        }

        using var named = Model(Names, 1);
        using var plain = Model(null, 2);
        var e = Assert.Throws<ArgumentException>(() => Ensemble.Validate([named, plain]));
        Assert.Contains("Member 1's class names (none) differ from member 0's (zero, one", e.Message);
    }

    [Theory]
    [InlineData("[\"a\",\"b\"]", "class_names names 2 classes but the model scores 10")]
    [InlineData("{\"a\":1}", "class_names is not a JSON array of class names")]
    [InlineData("[\"a\",1,\"c\",\"d\",\"e\",\"f\",\"g\",\"h\",\"i\",\"j\"]", "class_names holds number where a class name belongs")]
    [InlineData("[\"a\",\"a\",\"c\",\"d\",\"e\",\"f\",\"g\",\"h\",\"i\",\"j\"]", "invalid class_names: Class name 'a' appears twice.")]
    [InlineData("[\"a\",\"\",\"c\",\"d\",\"e\",\"f\",\"g\",\"h\",\"i\",\"j\"]", "invalid class_names: Class name 1 is empty.")]
    [InlineData("[\"a\",", "invalid class_names:")]
    public void A_file_whose_class_names_do_not_fit_the_model_is_refused_naming_the_problem(string json, string expected)
    {
        string path = _dir.File("model.safetensors");
        using (var model = Model(null))
        {
            model.Save(path);
        }
        var (tensors, metadata) = SafeTensors.Read(path);
        var edited = metadata.ToDictionary(e => e.Key, e => e.Value);
        edited[ModelFile.ClassNamesKey] = json;
        SafeTensors.Write(path, tensors, edited);
        var error = Assert.Throws<ModelFormatException>(() => ModelFile.Load(path));
        Assert.Contains(expected, error.Message);
        Assert.Contains(path, error.Message);
    }

    [Fact]
    public void A_model_refuses_names_that_do_not_match_its_classes()
    {
        using var model = Model(null);
        Assert.Contains("3 class names for a model that scores 10 classes", Assert.Throws<ArgumentException>(() => model.ClassNames = ["a", "b", "c"]).Message);
        Assert.Null(model.ClassNames);
    }

    [Fact]
    public void Training_names_the_models_classes_after_the_data()
    {
        var digits = SyntheticDigits.Create(60, seed: 2);
        var data = new Dataset(digits.Pixels, digits.Labels, digits.SampleShape, Names);
        var settings = new TrainingSettings { Architecture = "conv4k3-relu,maxpool2,flatten", Epochs = 1, BatchSize = 20, ValidationSplit = 0, Threads = 1, Augmentation = Augmentation.None };
        using var run = new Trainer(settings).Train(data);
        Assert.Equal(Names, run.Model.ClassNames);
    }
}
