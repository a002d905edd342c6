using Convnet.Data;
using Convnet.Tensors;
using Xunit;

namespace Convnet.Tests.Data;

/// <summary>A dataset's class names: checked, kept by subsets and splits, and the key to a model's class order.</summary>
public sealed class DatasetClassNamesTests
{
    private static readonly Shape Pixel = Shape.Image(1, 1, 1);

    private static Dataset Named(byte[] labels, params string[] names) =>
        new(labels.Select(l => (byte)(10 * l)).ToArray(), labels, Pixel, names);

    [Fact]
    public void Names_count_the_classes_and_name_each_label()
    {
        var data = Named([0, 1, 0], "cat", "dog", "bird");
        Assert.Equal(3, data.ClassCount());
        Assert.Equal("dog", data.ClassName(1));
        Assert.Equal("7", new Dataset([1], [7], Pixel).ClassName(7));
        Assert.Equal(8, new Dataset([1], [7], Pixel).ClassCount());
    }

    [Theory]
    [InlineData(new[] { "a", "a" }, "Class name 'a' appears twice.")]
    [InlineData(new[] { "a", "" }, "Class name 1 is empty.")]
    [InlineData(new string[0], "0 class names; 1 to 256 are possible.")]
    [InlineData(new[] { "a" }, "Label 1 but only 1 class names.")]
    public void Bad_names_are_refused(string[] names, string expected)
    {
        var e = Assert.Throws<ArgumentException>(() => new Dataset([1, 2], [0, 1], Pixel, names));
        Assert.StartsWith(expected, e.Message);
        Assert.Equal("classNames", e.ParamName);
    }

    [Fact]
    public void More_than_256_names_are_refused()
    {
        var names = Enumerable.Range(0, 257).Select(i => $"c{i}").ToArray();
        Assert.StartsWith("257 class names", Assert.Throws<ArgumentException>(() => new Dataset([1], [0], Pixel, names)).Message);
    }

    [Fact]
    public void Subsets_and_splits_keep_the_names()
    {
        var data = Named([0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2], "a", "b", "c");
        Assert.Equal(["a", "b", "c"], data.Subset([1, 2]).ClassNames);
        var (train, validation) = data.SplitStratified(0.25, seed: 3);
        Assert.Equal(["a", "b", "c"], train.ClassNames);
        Assert.Equal(["a", "b", "c"], validation.ClassNames);
    }

    [Fact]
    public void WithClassNames_relabels_by_name_and_shares_the_pixels()
    {
        // A test folder that lacks "bird" numbers its classes differently from the model.
        var data = Named([0, 1, 1, 0], "cat", "dog");
        var mapped = data.WithClassNames(["bird", "cat", "dog"]);
        Assert.Equal(new byte[] { 1, 2, 2, 1 }, mapped.Labels);
        Assert.Equal(["bird", "cat", "dog"], mapped.ClassNames);
        Assert.Same(data.Pixels, mapped.Pixels);
    }

    [Fact]
    public void WithClassNames_refuses_a_class_the_model_does_not_know()
    {
        var data = Named([0, 1], "cat", "horse");
        var e = Assert.Throws<ArgumentException>(() => data.WithClassNames(["cat", "dog"]));
        Assert.StartsWith("Class 'horse' is not among the 2 classes (cat, dog).", e.Message);
    }

    [Fact]
    public void WithClassNames_names_numbered_classes_when_they_fit()
    {
        var data = new Dataset([1, 2], [0, 1], Pixel);
        Assert.Equal(["x", "y"], data.WithClassNames(["x", "y"]).ClassNames);
        Assert.Throws<ArgumentException>(() => data.WithClassNames(["x"]));
    }
}
