"""The tests import the installed `delta` package (`pip install ./sdk/python`,
or `pip install -e ./sdk/python` while developing), never the source tree
directly: the native module `delta._native` only exists in an installed
package."""
