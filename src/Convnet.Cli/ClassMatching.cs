using Convnet.Data;
using Convnet.Models;

namespace Convnet.Cli;

/// <summary>Puts a data set's classes in a model's order, by name, before the two are compared.</summary>
internal static class ClassMatching
{
    /// <summary>
    /// The labelled data with its classes numbered as the model's: a CSV's class names are matched
    /// to the model's by name; numbered classes stay numbers. A class the model does not know, or
    /// named classes for a model of numbered ones, is an error naming the file.
    /// </summary>
    public static Dataset ForModel(Dataset data, IClassifier net, string path)
    {
        var modelNames = net.ClassNames;
        if (data.ClassNames is { } dataNames)
        {
            if (modelNames is null)
            {
                throw new UserError($"{path}: its labels are class names ({Abbreviate(dataNames)}) but the model's {net.Classes} classes are numbers 0-{net.Classes - 1}");
            }
            var unknown = dataNames.Except(modelNames, StringComparer.Ordinal).ToList();
            if (unknown.Count > 0)
            {
                throw new UserError($"{path}: label{(unknown.Count == 1 ? "" : "s")} {string.Join(", ", unknown.Take(5).Select(n => $"'{n}'"))}{(unknown.Count > 5 ? ", ..." : "")} {(unknown.Count == 1 ? "is not a class" : "are not classes")} of the model, whose {modelNames.Count} classes are {Abbreviate(modelNames)}");
            }
            return data.WithClassNames(modelNames);
        }
        int largest = data.ClassCount() - 1;
        if (largest >= net.Classes)
        {
            throw new UserError($"{path}: label {largest}, but the model has {net.Classes} classes (0-{net.Classes - 1})");
        }
        return modelNames is null ? data : data.WithClassNames(modelNames);
    }

    /// <summary>The first ten names, then "...".</summary>
    private static string Abbreviate(IReadOnlyList<string> names) => string.Join(", ", names.Take(10)) + (names.Count > 10 ? ", ..." : "");
}
